"""The fiche of a structure and its section forms: computed indicators, French rule messages
on the field concerned, field rights of opérateurs and lecteurs, conventions workflow, API."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models import BhasileUser, BudgetAnnee, Convention, Departement, PlacesAnnee, Structure
from models.enums import StatutConvention
from tests.conftest import client_for
from tests.views_util import submit

SECTIONS = ["Description", "Calendrier", "Places", "Finances", "Activité (24 derniers mois)",
            "Contrôle qualité", "Documents", "Historique des modifications"]


def _one(app, stmt):
    with app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.expunge_all()
        return value


def _calvados(app) -> Structure:
    dep = select(Departement.id).where(Departement.code == "14").scalar_subquery()
    return _one(app, select(Structure).where(Structure.departement_id == dep).order_by(Structure.id))


def _operator_budget(app) -> BudgetAnnee:
    op = select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur").scalar_subquery()
    return _one(app, select(BudgetAnnee).join(Structure).where(
        Structure.operateur_id == op, BudgetAnnee.dotation_accordee.is_not(None))
        .order_by(BudgetAnnee.annee.desc()))


def test_fiche_has_every_section_and_computes_cost_per_day(app):
    s = _calvados(app)
    body = client_for(app, "calvados").get(f"/structureview/show/{s.id}").get_data(as_text=True)
    for title in SECTIONS:
        assert title in body
    assert "Coût journalier calculé (saisi)" in body and "Taux d'encadrement calculé (saisi)" in body
    with app.app_context():
        from app.extensions import db
        from app.pilotage.indicators import cout_journalier
        from app.jinja import fr_money

        year = dt.date.today().year - 1
        budget = db.session.scalar(select(BudgetAnnee).where(BudgetAnnee.structure_id == s.id,
                                                             BudgetAnnee.annee == year))
        places = db.session.scalar(select(PlacesAnnee.places_autorisees).where(
            PlacesAnnee.structure_id == s.id, PlacesAnnee.annee == year))
        with app.test_request_context():
            expected = fr_money(cout_journalier(budget.dotation_accordee, places, year))
    assert expected in body


def test_lecteur_reads_the_fiche_but_sees_no_edit_button(app):
    s = _calvados(app)
    body = client_for(app, "lecteur").get(f"/structureview/show/{s.id}").get_data(as_text=True)
    assert "Historique" in body and ">Modifier</a>" not in body and "Ajouter" not in body


def test_calendar_form_refuses_an_end_before_its_start_with_a_french_message(fresh_app):
    s = _calvados(fresh_app)
    client = client_for(fresh_app, "calvados")
    _page, answer = submit(client, f"/structure/calendrier/edit/{s.id}",
                           {"debut_autorisation": "2025-06-01", "fin_autorisation": "2024-01-01"})
    assert "La fin de la période (autorisation) doit être postérieure à son début." in answer.get_data(as_text=True)
    assert _one(fresh_app, select(Structure.fin_autorisation).where(Structure.id == s.id)) == s.fin_autorisation


def test_places_form_refuses_more_pmr_places_than_authorised(fresh_app):
    s = _calvados(fresh_app)
    row = _one(fresh_app, select(PlacesAnnee).where(PlacesAnnee.structure_id == s.id)
               .order_by(PlacesAnnee.annee.desc()))
    client = client_for(fresh_app, "calvados")
    _page, answer = submit(client, f"/placesanneeview/edit/{row.id}",
                           {"pmr": str(row.places_autorisees + 1)})
    assert "dépassent les places autorisées" in answer.get_data(as_text=True)
    assert _one(fresh_app, select(PlacesAnnee.pmr).where(PlacesAnnee.id == row.id)) == row.pmr


def test_operator_fills_its_budget_but_never_the_states_decisions(fresh_app):
    budget = _operator_budget(fresh_app)
    client = client_for(fresh_app, "operateur")
    path = f"/budgetanneeview/edit/{budget.id}"
    _page, answer = submit(client, path, {"dotation_accordee": "1.00"})
    assert "Champ réservé aux services de l'État" in answer.get_data(as_text=True)
    submit(client, path, {"total_produits": "123456.00"})
    stored = _one(fresh_app, select(BudgetAnnee).where(BudgetAnnee.id == budget.id))
    assert stored.dotation_accordee == budget.dotation_accordee and stored.total_produits == 123456
    api = client.put(f"/api/v1/budget/{budget.id}", json={"reprise_etat": 5, "version": stored.version})
    assert api.status_code == 403 and "reprise_etat" in api.get_json()["message"]


def test_operator_never_edits_conventions(app):
    client = client_for(app, "operateur")
    cid = _one(app, select(Convention.id).order_by(Convention.id))
    assert client.get(f"/conventionview/edit/{cid}").status_code in (302, 403)
    assert client.put(f"/api/v1/convention/{cid}", json={"montant": 1, "version": 1}).status_code in (403, 404)


def test_convention_statut_follows_the_workflow(fresh_app):
    signed = _one(fresh_app, select(Convention).where(Convention.statut == StatutConvention.SIGNEE))
    client = client_for(fresh_app, "centrale")
    _page, answer = submit(client, f"/conventionview/edit/{signed.id}", {"statut": "BROUILLON"})
    assert "ne peut pas passer" in answer.get_data(as_text=True)
    submit(client, f"/conventionview/edit/{signed.id}", {"statut": "RESILIEE"})
    assert _one(fresh_app, select(Convention.statut).where(Convention.id == signed.id)) == StatutConvention.RESILIEE


def test_agent_creates_a_convention_for_its_structures_only(fresh_app):
    s = _calvados(fresh_app)
    client = client_for(fresh_app, "calvados")
    _page, answer = submit(client, "/conventionview/add", {
        "reference": "CONV-14-TEST", "type": "CONVENTION", "statut": "BROUILLON",
        "date_debut": "2026-01-01", "date_fin": "2028-12-31", "structures_couvertes": [str(s.id)]})
    created = _one(fresh_app, select(Convention).where(Convention.reference == "CONV-14-TEST"))
    assert created is not None
    assert "CONV-14-TEST" in client.get("/conventionview/list/").get_data(as_text=True)
    submit(client, "/conventionview/add", {"reference": "CONV-SANS", "type": "CONVENTION",
                                           "statut": "BROUILLON", "structures_couvertes": []})
    assert _one(fresh_app, select(Convention).where(Convention.reference == "CONV-SANS")) is None


def test_api_answers_rule_errors_per_field_in_french(fresh_app):
    s = _calvados(fresh_app)
    client = client_for(fresh_app, "calvados")
    answer = client.put(f"/api/v1/structure/{s.id}",
                        json={"code_postal": "75001", "version": s.version})
    assert answer.status_code == 422
    assert "ne correspond pas au département 14" in answer.get_json()["message"]["code_postal"][0]


def test_openapi_document_is_reachable_and_lists_the_business_apis(app):
    spec = client_for(app, "admin").get("/api/v1/_openapi").get_json()
    for path in ("/structure/", "/operateur/", "/convention/", "/places/", "/budget/"):
        assert any(p.endswith(path) for p in spec["paths"]), path


def test_admin_sets_role_and_territory_in_the_user_screen(app):
    uid = _one(app, select(BhasileUser.id).where(BhasileUser.username == "calvados"))
    body = client_for(app, "admin").get(f"/users/edit/{uid}").get_data(as_text=True)
    for field in ('name="roles"', 'name="regions"', 'name="departements"', 'name="operateur"'):
        assert field in body


@pytest.mark.parametrize("path", ["/operateurview/list/", "/conventionview/list/", "/controleview/list/",
                                  "/evaluationview/list/", "/eigview/list/", "/placesanneeview/list/"])
def test_business_lists_open_for_a_departement_agent(app, path):
    assert client_for(app, "calvados").get(path).status_code == 200


def test_operateur_page_sums_places_and_dotations_and_lists_its_contracts(app):
    op = _one(app, select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    body = client_for(app, "centrale").get(f"/operateurview/show/{op}").get_data(as_text=True)
    assert "Places et dotations par année" in body and "Conventions et CPOM" in body
    assert body.count("/structureview/show/") >= 2


def test_convention_page_lists_covered_structures_and_documents(app):
    cid = _one(app, select(Convention.id).where(Convention.structures.any()).order_by(Convention.id))
    body = client_for(app, "centrale").get(f"/conventionview/show/{cid}").get_data(as_text=True)
    assert "Structures couvertes" in body and "entrée" in body and "Documents de la convention" in body
