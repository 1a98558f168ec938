"""FAB's generic lists read like the rest of the service: an agent sees « Programmé » and
31/12/2025 rather than PROGRAMME and 2025-12-31, a mistyped or stale link to a list gives the
list with a French message (never a server error), and a page of 100 rows carries one delete
form and one CSRF token, with the confirmation and the territory checks unchanged."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import BudgetAnnee, Controle, Convention, Departement, Structure
from tests.conftest import client_for

ALERT = re.compile(r'<div class="fr-alert fr-alert--(?:warning|info|error)[^"]*">\s*<p>(.*?)</p>', re.S)


def _db(app, stmt):
    with app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.expunge_all()
        return value


def _cells(body: str) -> list[list[str]]:
    """The text of each cell of each body row of the list's table."""
    tbody = re.search(r"<tbody>(.*?)</tbody>", body, re.S).group(1)
    return [[re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)]


def _alerts(body: str) -> list[str]:
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m)).strip() for m in ALERT.findall(body)]


@pytest.fixture(scope="module")
def admin(app):
    return client_for(app, "admin")


def test_a_list_shows_enum_labels_french_dates_and_french_amounts(app, admin):
    body = admin.get("/controleview/list/?_flt_0_type=PROGRAMME").get_data(as_text=True)
    rows = _cells(body)
    assert rows and all(row[3] == "Programmé" for row in rows), rows[:2]
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", row[2]) for row in rows), rows[:2]
    assert ">PROGRAMME<" not in body.split("<tbody>")[1]
    # the filter's choices are labelled too
    assert '<option value="INOPINE">Inopiné</option>' in body
    budgets = admin.get("/budgetanneeview/list/?_oc_BudgetAnneeView=dotation_accordee"
                        "&_od_BudgetAnneeView=desc").get_data(as_text=True)
    biggest = _db(app, select(func.max(BudgetAnnee.dotation_accordee)))
    assert biggest >= Decimal(1000)
    whole, cents = f"{biggest:.2f}".split(".")
    grouped = re.sub(r"\B(?=(\d{3})+$)", "\u202f", whole) + "," + cents
    assert grouped + " €" in _cells(budgets)[0], (grouped, _cells(budgets)[0])  # an amount: its € sign


def test_a_show_page_shows_enum_labels_and_french_dates(app, admin):
    cid = _db(app, select(func.min(Controle.id)).where(Controle.type == "INOPINE"))
    controle_date = _db(app, select(Controle.date).where(Controle.id == cid))
    body = admin.get(f"/controleview/show/{cid}").get_data(as_text=True)
    assert re.search(r"<dt>Type</dt>\s*<dd>\s*Inopiné\s*</dd>", body)
    assert re.search(rf"<dt>Date</dt>\s*<dd>\s*{controle_date:%d/%m/%Y}\s*</dd>", body)
    convention = _db(app, select(func.min(Convention.id)).where(Convention.statut == "SIGNEE"))
    signed = admin.get(f"/conventionview/show/{convention}").get_data(as_text=True)
    assert "Signée" in signed and ">SIGNEE<" not in signed


BAD_QUERIES = [
    ("/controleview/list/?_flt_0_type=", "Filtre « Type » sans valeur : ignoré."),
    ("/conventionview/list/?_flt_0_statut=", "Filtre « Statut » sans valeur : ignoré."),
    ("/controleview/list/?_flt_0_type=NIMPORTE", "Valeur « NIMPORTE » invalide pour le filtre « Type »"),
    ("/controleview/list/?_flt_9_type=INOPINE", "Condition de filtre inconnue pour « Type »"),
    ("/controleview/list/?_flt_0_date=abc", "Valeur « abc » invalide pour le filtre « Date »"),
    ("/controleview/list/?_flt_1_date=2024-13-45", "Valeur « 2024-13-45 » invalide pour le filtre « Date »"),
    ("/controleview/list/?_flt_0_structure=abc", "Valeur « abc » invalide pour le filtre « Structure »"),
    ("/controleview/list/?_flt_0_nope=1", "Filtre sur « nope » impossible sur cette liste"),
    ("/placesanneeview/list/?_flt_0_annee=99999999999999999999", "invalide pour le filtre « Année »"),
    ("/placesanneeview/list/?_flt_0_places_autorisees=1e999",
     "invalide pour le filtre « Places autorisées »"),
    ("/budgetanneeview/list/?_flt_0_annee=nan", "Valeur « nan » invalide pour le filtre « Année »"),
    ("/controleview/list/?page_ControleView=-1", "Numéro de page « -1 » invalide"),
    ("/controleview/list/?page_ControleView=abc", "Numéro de page « abc » invalide"),
    ("/controleview/list/?page_ControleView=99999", "La page 100000 n'existe pas"),
    ("/controleview/list/?psize_ControleView=100000", "200 lignes par page au plus."),
    ("/controleview/list/?psize_ControleView=-5", "Nombre de lignes par page « -5 » invalide"),
    ("/controleview/list/?_oc_ControleView=nope&_od_ControleView=asc", "Tri impossible sur « nope »"),
    ("/controleview/list/?_oc_ControleView=date&_od_ControleView=sideways", "Sens de tri « sideways » inconnu"),
    ("/conventionview/show/1?page_ConventionStructureView=abc", "Numéro de page « abc » invalide"),
    ("/users/list/?psize_UserDBModelView=x", "Nombre de lignes par page « x » invalide"),
]


@pytest.mark.parametrize("url, message", BAD_QUERIES)
def test_a_bad_query_gives_the_page_with_a_french_message(admin, url, message):
    response = admin.get(url)
    assert response.status_code == 200, url
    body = response.get_data(as_text=True)
    assert any(message in alert for alert in _alerts(body)), (url, _alerts(body))
    assert "fr-table" in body or "Aucun enregistrement" in body


def test_a_bad_filter_is_dropped_and_the_good_ones_kept(app, login):
    calvados = login("calvados")
    body = calvados.get("/controleview/list/?_flt_0_type=INOPINE&_flt_0_date=31/02/2024"
                        "&psize_ControleView=100000").get_data(as_text=True)
    expected = _db(app, select(func.count(Controle.id)).join(Structure).join(Departement)
                   .where(Departement.code == "14", Controle.type == "INOPINE"))
    assert re.search(rf"\b{expected} enregistrements?\b", body)
    assert len(_cells(body)) == min(expected, 200)
    # the page's links carry the cleaned query: no trace of the dropped values
    assert "31/02/2024" not in body.split("<tbody>")[1] and "psize_ControleView=100000" not in body
    # a French date is read as such
    french = calvados.get("/controleview/list/?_flt_1_date=01/06/2025").get_data(as_text=True)
    assert not _alerts(french)
    assert all(row[2][-4:] >= "2025" for row in _cells(french))


def test_a_list_of_100_rows_carries_one_delete_form_and_one_csrf_token(admin):
    body = admin.get("/controleview/list/?psize_ControleView=100").get_data(as_text=True)
    assert len(_cells(body)) == 100
    # one for the rows' shared delete form, one for the header's « Se déconnecter »
    assert body.count('name="csrf_token"') == 2
    assert len(re.findall(r'<button type="submit" form="bh-rows-ControleView" formaction="/controleview/delete/\d+"',
                          body)) == 100
    assert len(body.encode()) < 200_000  # was 240 kB with a form per row
    # the structures' drop-down of the filters is drawn once, even with a structure filter on
    sid = re.search(r'<template data-bh-filter-value-template="structure"><select[^>]*>'
                    r'<option[^>]*>[^<]*</option><option value="(\d+)"', body).group(1)
    filtered = admin.get(f"/controleview/list/?_flt_0_structure={sid}").get_data(as_text=True)
    assert filtered.count(f'<option value="{sid}">') == 1  # the template's
    assert re.search(rf'<select[^>]*data-bh-filter-fill[^>]*name="_flt_0_structure">'
                     rf'<option selected value="{sid}">', filtered)
