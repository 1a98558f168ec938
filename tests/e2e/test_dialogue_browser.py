"""The budget dialogue in a real browser: the Calvados agent reads the request beside the
history and the peers, types three proposals and sees the totals and the coût journalier
follow; the opérateur reads what the State proposes and answers; the dashboard counts them.
Screenshots of the three screens land in build/screenshots/."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.e2e.conftest import screenshot

YEAR = 2027   # the demo park has budgets up to 2026: five years of history show
ASKED = {"charges_1": "150000", "charges_2": "600000", "charges_3": "250000", "produits_1": "980000",
         "produits_2": "15000", "produits_3": "0", "etp_direction": "1.5", "etp_administration": "2",
         "etp_socio_educatif": "8", "etp_autres": "1", "places": "100"}


@pytest.fixture(scope="module")
def filed(live_server) -> int:
    """A dialogue of the opérateur's Calvados structure, its budget prévisionnel filed (no
    campaign: the other browser tests' campaigns stay as they are)."""
    from app.campagnes.dialogue import file_budget
    from app.extensions import db
    from app.scope import Scope
    from models import BhasileUser, Departement, Structure
    from models.dialogue import DialogueBudgetaire
    from models.enums import Role

    with live_server.app.app_context():
        op_id = db.session.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        sid = db.session.scalar(select(Structure.id).join(Departement).where(
            Structure.operateur_id == op_id, Departement.code == "14").order_by(Structure.code_dna).limit(1))
        d = DialogueBudgetaire(structure_id=sid, annee=YEAR, echeance_depot=dt.date.today() + dt.timedelta(days=20))
        db.session.add(d)
        db.session.commit()
        file_budget(db.session, Scope(operateur_id=op_id, roles=frozenset({Role.OPERATEUR.value})), d, ASKED,
                    d.version, "operateur")
        pk = d.id
        db.session.remove()
    return pk


def _statut(live_server, pk: int) -> str:
    """The dialogue's stored status, read beside the pages (said when a step fails)."""
    from app.extensions import db
    from models.dialogue import DialogueBudgetaire

    with live_server.app.app_context():
        statut = db.session.get(DialogueBudgetaire, pk).statut.value
        db.session.remove()
    return statut


def test_dialogue_step_by_step(open_page, filed, live_server):
    """One test for the whole procedure: each step needs the previous one, and steps split into
    tests could be run apart (another order, another worker) and read a dialogue at the wrong
    step."""
    _agent_proposes_with_totals_following(open_page, filed)
    assert _statut(live_server, filed) == "propose"
    _operateur_answers(open_page, filed)
    assert _statut(live_server, filed) == "repondu"
    _dashboard(open_page, filed)
    _compte_administratif(open_page, filed)


def _agent_proposes_with_totals_following(open_page, filed):
    page = open_page("calvados")
    page.goto(f"/dialogue/{filed}/")
    assert page.locator("#historique tbody tr").count() == 5
    assert "Pairs (même type)" in page.locator("#pairs").inner_text()
    total = page.locator('[data-total-propose="charges"]')
    assert total.inner_text().replace("\u202f", " ").replace("\xa0", " ") == "1 000 000,00 €"
    page.fill("#propose_charges_2", "590 000")
    page.fill("#motif_charges_2", "Masse salariale au-delà du tableau des emplois")
    page.fill("#propose_charges_3", "230 000")
    page.fill("#motif_charges_3", "Loyers renégociés")
    page.fill("#propose_produits_1", "945 000")
    page.fill("#motif_produits_1", "Conséquence des deux lignes")
    assert total.inner_text().replace("\u202f", " ").replace("\xa0", " ") == "970 000,00 €"
    assert page.locator("[data-cout-propose]").inner_text() == "25,89"   # 945 000 / (100 places × 365 days)
    page.evaluate("document.activeElement.blur(); document.querySelectorAll('*').forEach(e => { if (e.scrollLeft) e.scrollLeft = 0; })")
    screenshot(page, "dialogue-agent")
    with page.expect_navigation():  # the answer page, not the form
        page.locator("#form-agent button[type=submit]").click()
    assert "Propositions envoyées" in page.content()
    assert page.problems == []


def _operateur_answers(open_page, filed):
    page = open_page("operateur")
    page.goto(f"/dialogue/{filed}/")
    assert "Loyers renégociés" in page.content()
    page.check('input[name="reponse_charges_2"][value="accepte"]')
    page.check('input[name="reponse_produits_1"][value="accepte"]')
    page.check('input[name="reponse_charges_3"][value="contre"]')
    page.fill("#contre_charges_3", "240 000")
    page.fill("#motif_reponse_charges_3", "Bail signé jusqu'en 2034")
    page.evaluate("document.activeElement.blur(); document.querySelectorAll('*').forEach(e => { if (e.scrollLeft) e.scrollLeft = 0; })")
    screenshot(page, "dialogue-operateur")
    with page.expect_navigation():  # the answer page, not the form
        page.locator("#form-operateur button[type=submit]").click()
    assert "Réponses envoyées" in page.content()
    assert page.problems == []


def _dashboard(open_page, filed):
    page = open_page("calvados")
    page.goto(f"/dialogue/tableau-de-bord?annee={YEAR}&niveau=departement&code=14")
    assert page.locator('[data-kpi="discussion"]').inner_text() == "1"
    screenshot(page, "dialogue-tableau-de-bord")
    assert page.problems == []


def _compte_administratif(open_page, filed):
    """After the decision, the opérateur files the compte administratif and proposes the
    affectation du résultat; the agent reads the gap to what was granted and amends it."""
    agent = open_page("calvados")
    agent.goto(f"/dialogue/{filed}/")
    agent.fill("#retenu_charges_3", "235 000")
    # the decision drafts the avenant's PDF through LibreOffice within the request: beyond the
    # page's 15 s when two suites share two cores (CI failed there once, at load 10)
    with agent.expect_navigation(timeout=60_000):  # the answer page, not the form
        agent.locator("#form-agent button[type=submit]").click()
    assert "Décision enregistrée" in agent.content()
    # the notification's PDF is generated in the background: its link replaces the waiting
    # words in place — no reload, which would lose what the agent types meanwhile
    if agent.locator("#bh-notification").count():
        agent.evaluate("window.bhSamePage = true")
        agent.locator("#bh-notification a").wait_for(timeout=120_000)
        assert agent.evaluate("window.bhSamePage === true")
        assert agent.locator("#bh-notification a").inner_text() == "Notification (PDF)"
    operateur = open_page("operateur")
    operateur.goto(f"/dialogue/{filed}/")
    for code, value in (("charges_1", "160 000"), ("charges_2", "600 000"), ("charges_3", "235 000"),
                        ("produits_1", "945 000"), ("produits_2", "80 000"), ("produits_3", "5 000")):
        operateur.fill(f"#realise_{code}", value)
    operateur.select_option("#affectation", "investissement")
    operateur.fill("#ca_commentaire", "Travaux de mise aux normes")
    with operateur.expect_navigation():  # the answer page, not the form
        operateur.locator("#form-compte button[type=submit]").click()
    assert "Compte administratif déposé" in operateur.content()
    screenshot(operateur, "dialogue-compte-operateur")
    agent.goto(f"/dialogue/{filed}/")
    assert "35 000,00" in agent.locator("#resultat-ca").inner_text().replace("\u202f", " ").replace("\xa0", " ")
    agent.select_option("#affectation", "reserve_compensation")
    agent.fill("#motif_affectation", "Déficits antérieurs à couvrir")
    agent.locator("#compte-administratif").scroll_into_view_if_needed()
    screenshot(agent, "dialogue-compte-agent")
    with agent.expect_navigation():  # the answer page, not the form
        agent.locator("#form-compte button[type=submit]").click()
    assert "Affectation du résultat arrêtée" in agent.content()
    assert agent.problems == [] and operateur.problems == []
