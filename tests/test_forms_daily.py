"""An agent's day with the forms: French numbers in and out, back on the fiche section after a
save with a confirmation, the State's fields shown locked to an opérateur (and still refused
when forged), the language switch staying on the page (issue 16: 1, 2, 6, 11)."""
from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import BhasileUser, BudgetAnnee, Departement, Structure
from tests.conftest import client_for
from tests.views_util import read_form

NBSP = re.compile("[\u00a0\u202f]")


def _one(application, stmt):
    with application.app_context():
        from app.extensions import db

        value = db.session.execute(stmt).first()
        db.session.remove()
        return value


def _calvados_budget(application):
    return _one(application, select(BudgetAnnee.id, BudgetAnnee.structure_id).join(Structure)
                .join(Departement).where(Departement.code == "14").order_by(BudgetAnnee.id))


def _operateur_budget(application):
    op = _one(application, select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))[0]
    return _one(application, select(BudgetAnnee.id, BudgetAnnee.dotation_accordee,
                                    BudgetAnnee.dotation_demandee)
                .join(Structure).where(Structure.operateur_id == op).order_by(BudgetAnnee.id))


def _stored(application, bid, field="dotation_demandee"):
    return _one(application, select(getattr(BudgetAnnee, field)).where(BudgetAnnee.id == bid))[0]


def _text(response) -> str:
    return NBSP.sub(" ", response.get_data(as_text=True))


def test_a_french_amount_typed_in_the_fiche_is_stored_shown_and_brings_back_to_the_section(fresh_app):
    bid, sid = _calvados_budget(fresh_app)
    client = client_for(fresh_app, "calvados")
    fiche = client.get(f"/structureview/show/{sid}").get_data(as_text=True)
    link = re.search(rf'href="(/budgetanneeview/edit/{bid}\?[^"]+)"', fiche).group(1).replace("&amp;", "&")
    assert "next=" in link
    form_page = client.get(link)
    data = read_form(form_page.get_data(as_text=True))
    assert data["next"] == f"/structureview/show/{sid}#finances"
    data["dotation_demandee"] = "1 647 860,15"
    saved = client.post(link, data=data)
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/structureview/show/{sid}#finances")
    assert _stored(fresh_app, bid) == Decimal("1647860.15")
    back = _text(client.get(f"/structureview/show/{sid}"))
    assert "1 647 860,15 €" in back
    assert 'fr-alert--success' in back and "Modifications enregistrées" in back
    again = _text(client.get(link))
    assert 'value="1 647 860,15"' in again             # pre-filled the French way


def test_garbage_in_a_number_field_is_a_french_message_and_nothing_is_written(fresh_app):
    bid, _sid = _calvados_budget(fresh_app)
    before = _stored(fresh_app, bid)
    client = client_for(fresh_app, "calvados")
    path = f"/budgetanneeview/edit/{bid}"
    data = read_form(client.get(path).get_data(as_text=True))
    data["dotation_demandee"] = "un million"
    page = client.post(path, data=data)
    assert page.status_code == 200
    assert "« un million » n'est pas un nombre" in page.get_data(as_text=True)
    assert _stored(fresh_app, bid) == before


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                  "https:evil.example"])
def test_a_save_never_follows_a_next_to_another_site(fresh_app, evil):
    bid, _sid = _calvados_budget(fresh_app)
    client = client_for(fresh_app, "calvados")
    path = f"/budgetanneeview/edit/{bid}"
    data = read_form(client.get(path).get_data(as_text=True))
    data["next"] = evil
    saved = client.post(path, data=data)
    assert saved.status_code == 302
    location = saved.headers["Location"]
    assert "evil" not in location and not location.startswith("//")


def test_a_save_from_a_filtered_list_goes_back_to_that_list(fresh_app):
    bid, _sid = _calvados_budget(fresh_app)
    client = client_for(fresh_app, "calvados")
    listing = "/budgetanneeview/list/?_flt_0_annee=2024"
    path = f"/budgetanneeview/edit/{bid}"
    page = client.get(path, headers={"Referer": f"http://localhost{listing}"})
    data = read_form(page.get_data(as_text=True))
    assert data["next"] == listing
    assert client.post(path, data=data).headers["Location"].endswith(listing)


def test_a_user_saved_from_the_user_list_is_back_on_the_list(fresh_app):
    client = client_for(fresh_app, "admin")
    uid = _one(fresh_app, select(BhasileUser.id).where(BhasileUser.username == "lecteur"))[0]
    path = f"/users/edit/{uid}"
    page = client.get(path, headers={"Referer": "http://localhost/users/list/"})
    data = read_form(page.get_data(as_text=True))
    data["first_name"] = "Léa"
    saved = client.post(path, data=data)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/users/list/")


def test_amounts_in_lists_have_their_grouping_and_euro_sign(app, login):
    body = _text(login("calvados").get("/budgetanneeview/list/"))
    assert re.search(r"\d{1,3}(?: \d{3})+,\d{2} €", body)


def test_an_operateur_sees_the_granted_dotation_locked_with_its_reason(fresh_app):
    bid, accordee, _demandee = _operateur_budget(fresh_app)
    client = client_for(fresh_app, "operateur")
    path = f"/budgetanneeview/edit/{bid}"
    html = client.get(path).get_data(as_text=True)
    control = re.search(r'<input[^>]*name="dotation_accordee"[^>]*>', html).group(0)
    assert "disabled" in control
    group = html[html.index('id="dotation_accordee-group"'):][:1500]
    assert "Champ réservé à l'État" in group
    demandee = re.search(r'<input[^>]*name="dotation_demandee"[^>]*>', html).group(0)
    assert "disabled" not in demandee
    # as a browser posts it: the locked field is not sent, the rest is saved
    data = read_form(html)
    assert "dotation_accordee" not in data
    data["dotation_demandee"] = "123 456,78"
    assert client.post(path, data=data).status_code == 302
    assert _stored(fresh_app, bid) == Decimal("123456.78")
    assert _stored(fresh_app, bid, "dotation_accordee") == accordee


def test_a_forged_post_of_a_locked_field_is_still_refused_by_the_gate(fresh_app):
    bid, accordee, demandee = _operateur_budget(fresh_app)
    client = client_for(fresh_app, "operateur")
    path = f"/budgetanneeview/edit/{bid}"
    data = read_form(client.get(path).get_data(as_text=True))
    data["dotation_accordee"] = "9 999 999,00"
    data["dotation_demandee"] = "1,00"
    page = client.post(path, data=data)
    assert page.status_code == 200
    assert "réservé aux services de l'État" in page.get_data(as_text=True)
    assert _stored(fresh_app, bid, "dotation_accordee") == accordee
    assert _stored(fresh_app, bid) == demandee


def _grid_config(client, path="/grille/budgets/"):
    html = client.get(path).get_data(as_text=True)
    raw = re.search(r'<script type="application/json" id="bh-grid-config">(.*?)</script>', html, re.S)
    return json.loads(raw.group(1)), html


def test_the_grid_says_why_an_operateur_cannot_change_the_granted_dotation(app, login):
    config, _html = _grid_config(login("operateur"))
    columns = {c["field"]: c for c in config["columns"]}
    assert columns["dotation_accordee"]["editable"] is False
    assert columns["dotation_accordee"]["reason"] == "Champ réservé à l'État"
    assert columns["dotation_demandee"]["editable"] is True and columns["dotation_demandee"]["reason"] is None


def test_switching_language_stays_on_the_page_and_the_grid_follows(fresh_app):
    client = client_for(fresh_app, "calvados")
    switched = client.get("/lang/en", headers={"Referer": "http://localhost/grille/budgets/?annee=2024"})
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/grille/budgets/?annee=2024")
    config, html = _grid_config(client)
    assert config["locale"] == "en"
    assert config["texts"]["nextTitle"] == "Next page" and config["texts"]["rowsPerPage"] == "Rows per page"
    assert ">Save <" in html and "Fill down" in html
    french = client.get("/lang/fr?next=/structureview/list/")
    assert french.headers["Location"].endswith("/structureview/list/")


@pytest.mark.parametrize("headers, query", [({"Referer": "https://evil.example/grille/"}, ""),
                                            ({}, "?next=//evil.example/"),
                                            ({}, "?next=https://evil.example/")])
def test_the_language_switch_never_leaves_the_site(fresh_app, headers, query):
    client = client_for(fresh_app, "calvados")
    switched = client.get(f"/lang/en{query}", headers=headers)
    assert switched.status_code == 302 and "evil" not in switched.headers["Location"]


def test_an_unknown_language_is_a_404(app):
    assert app.test_client().get("/lang/xx").status_code == 404
