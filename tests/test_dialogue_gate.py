"""The budget dialogue goes through the write gate: an opérateur never sees another opérateur's
dialogue nor takes the State's steps; a département agent never decides outside its
département; a stale version or a malformed body is refused in French, writes nothing and is
never a 500; what is out of scope is simply not found (404). Late answers are flagged and the
reminders listed in « À traiter » of both sides."""
from __future__ import annotations

import datetime as dt
import html
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import client_for
from tests.test_dialogue import ASKED, YEAR, dialogue, dlg_app, park, post, session  # noqa: F401


def text(response) -> str:
    """The page as the user reads it (entities such as &#39; unescaped)."""
    return html.unescape(response.get_data(as_text=True))


def snapshot(application) -> tuple:
    """Everything a dialogue step could write."""
    from models import BudgetAnnee, Changement, Document
    from models.dialogue import DialogueBudgetaire, DialogueLigne

    with application.app_context():
        s = session(application)
        s.expire_all()
        return (s.execute(select(DialogueBudgetaire.id, DialogueBudgetaire.statut, DialogueBudgetaire.version)
                          .order_by(DialogueBudgetaire.id)).all(),
                s.execute(select(DialogueLigne.id, DialogueLigne.demande, DialogueLigne.propose,
                                 DialogueLigne.version).order_by(DialogueLigne.id)).all(),
                s.scalar(select(func.count(BudgetAnnee.id))), s.scalar(select(func.count(Document.id))),
                s.scalar(select(func.count(Changement.id))))


def put_in(application, pk: int, statut: str, echeance_reponse=None) -> None:
    """A dialogue placed at a step as if the users had got there: filed, proposed on the
    dotation, answered (with a counter-proposal)."""
    from models.dialogue import DialogueBudgetaire, DialogueLigne, ReponseLigne, StatutDialogue

    with application.app_context():
        s = session(application)
        d = s.get(DialogueBudgetaire, pk)
        if not d.lignes:
            d.lignes = [DialogueLigne(code="produits_1", rang=3, demande=Decimal("500000")),
                        DialogueLigne(code="charges_1", rang=0, demande=Decimal("500000"))]
        d.statut = StatutDialogue(statut)
        d.depose_le, d.depose_par = dt.datetime(YEAR - 1, 10, 1), "test"
        if statut in ("propose", "repondu"):
            dot = d.ligne("produits_1")
            dot.propose, dot.motif = Decimal("450000"), "Trop"
            d.propose_le, d.propose_par = dt.datetime(YEAR - 1, 11, 1), "test"
            d.echeance_reponse = echeance_reponse or dt.date.today() + dt.timedelta(days=8)
        if statut == "repondu":
            dot.reponse, dot.contre, dot.motif_reponse = ReponseLigne.CONTRE, Decimal("480000"), "Non"
        s.commit()


def test_an_operateur_never_sees_another_operateurs_dialogue(dlg_app, park):
    client = client_for(dlg_app, "operateur")
    other = park["other"]
    listing = client.get(f"/dialogue/?annee={YEAR}").get_data(as_text=True)
    assert park["mine"].code_dna in listing and other.code_dna not in listing
    assert park["paris"].code_dna not in listing
    for path in (f"/dialogue/{other.id}/", f"/dialogue/{other.id}/classeur.xlsx", "/dialogue/99999999999/"):
        assert client.get(path).status_code == 404, path
    before = snapshot(dlg_app)
    refused = post(client, f"/dialogue/{other.id}/deposer",
                   {"version": "1", **{f"demande_{k}": v for k, v in ASKED.items()}})
    assert refused.status_code == 404 and other.code_dna not in text(refused)
    assert snapshot(dlg_app) == before
    assert other.code_dna not in client.get("/a-traiter/").get_data(as_text=True)


def test_a_departement_agent_never_decides_outside_its_departement(dlg_app, park):
    paris = park["paris"].id
    put_in(dlg_app, paris, "repondu")
    agent, normandie = client_for(dlg_app, "calvados"), client_for(dlg_app, "normandie")
    assert agent.get(f"/dialogue/{paris}/").status_code == 404
    before = snapshot(dlg_app)  # after the logins, which the history records
    version = str(dialogue(dlg_app, paris)["version"])
    for step, data in (("decider", {"retenu_produits_1": "460000"}),
                       ("proposer", {"propose_charges_1": "1", "motif_charges_1": "x"})):
        refused = post(agent, f"/dialogue/{paris}/{step}", {"version": version, **data})
        assert refused.status_code == 404, step
    assert snapshot(dlg_app) == before
    # the Normandie agent, whose région holds Calvados only, neither
    assert post(normandie, f"/dialogue/{paris}/decider",
                {"version": version}).status_code == 404
    assert snapshot(dlg_app) == before


def test_an_operateur_never_takes_the_states_steps(dlg_app, park):
    mine = park["mine"].id
    client = client_for(dlg_app, "operateur")
    before = snapshot(dlg_app)
    version = str(dialogue(dlg_app, mine)["version"])
    for step in ("proposer", "decider"):
        refused = post(client, f"/dialogue/{mine}/{step}",
                       {"version": version, "propose_charges_1": "1", "motif_charges_1": "x"})
        assert refused.status_code == 403, step
        assert "État" in text(refused) or "rôle" in text(refused)
    if dialogue(dlg_app, mine)["statut"] in ("a_deposer", "depose"):
        refused = post(client, f"/dialogue/{mine}/deposer", {
            "version": version, "dotation_accordee": "9999999", "decide_par": "operateur",
            **{f"demande_{k}": v for k, v in ASKED.items()}})
        assert refused.status_code == 403
        assert "réservé aux services de l'État" in text(refused)
    assert snapshot(dlg_app) == before


@pytest.fixture()
def fresh_dialogue(dlg_app, park):
    """The opérateur's other Calvados structure... or, simply, another dialogue of its own,
    put back at « à déposer »."""
    from models import BhasileUser, Structure
    from models.dialogue import DialogueBudgetaire, StatutDialogue

    with dlg_app.app_context():
        s = session(dlg_app)
        op_id = s.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        d = s.scalars(select(DialogueBudgetaire).join(Structure).where(
            Structure.operateur_id == op_id, DialogueBudgetaire.annee == YEAR,
            DialogueBudgetaire.id != park["mine"].id).order_by(DialogueBudgetaire.id)).first()
        if d is None:
            pytest.skip("l'opérateur n'a qu'une structure dans la campagne")
        d.statut, d.lignes = StatutDialogue.A_DEPOSER, []
        s.commit()
        return d.id


def test_stale_versions_and_malformed_bodies_are_refused_in_french(dlg_app, fresh_dialogue):
    pk, client = fresh_dialogue, client_for(dlg_app, "operateur")
    good = {f"demande_{k}": v for k, v in ASKED.items()}
    version = dialogue(dlg_app, pk)["version"]
    before = snapshot(dlg_app)
    cases = [
        ({"version": str(version - 1) if version > 1 else "999", **good}, 400, None),
        ({"version": "pas-un-nombre", **good}, 400, "Version de la fiche absente"),
        ({**good}, 400, "Version de la fiche absente"),
        ({"version": str(version), **good, "demande_charges_1": "douze mille"}, 302, "n'est pas un nombre"),
        ({"version": str(version), **good, "demande_charges_2": "-5"}, 302, "positif"),
        ({"version": str(version), **good, "demande_places": "10,5"}, 302, "entier"),
        ({"version": str(version), "demande_charges_1": "1"}, 302, "montant obligatoire"),
        ({"version": str(version), **good, "demande_charges_1": "9" * 400}, 302, "raisonnable"),
    ]
    for data, status, message in cases:
        answer = post(client, f"/dialogue/{pk}/deposer", data, follow_redirects=False)
        assert answer.status_code == status, data
        if status == 302:
            answer = client.get(answer.location)
        assert answer.status_code in (200, 400)
        if message:
            assert message in text(answer), message
        assert snapshot(dlg_app) == before
    for upload, message in ((b"pas un classeur", "n'est pas un classeur lisible"), (None, "Choisissez le classeur")):
        data = {"version": str(version)}
        if upload is not None:
            data["fichier"] = (io.BytesIO(upload), "bp.xlsx")
        answer = post(client, f"/dialogue/{pk}/classeur", data, content_type="multipart/form-data",
                      follow_redirects=True)
        assert answer.status_code == 200 and message in text(answer)
    # another structure's workbook is refused
    other_book = client.get(f"/dialogue/{another_of_mine(dlg_app, pk)}/classeur.xlsx").data
    answer = post(client, f"/dialogue/{pk}/classeur", {"version": str(version), "fichier": (io.BytesIO(other_book), "x.xlsx")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert "n'est pas celui de la structure" in text(answer)
    assert snapshot(dlg_app) == before


def another_of_mine(application, pk: int) -> int:
    """Another dialogue of the opérateur's (another structure's workbook)."""
    from models import BhasileUser, Structure
    from models.dialogue import DialogueBudgetaire

    with application.app_context():
        s = session(application)
        op_id = s.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        return s.scalar(select(DialogueBudgetaire.id).join(Structure).where(
            Structure.operateur_id == op_id, DialogueBudgetaire.annee == YEAR, DialogueBudgetaire.id != pk
        ).order_by(DialogueBudgetaire.id).limit(1))


def test_an_agents_malformed_proposals_write_nothing(dlg_app, park):
    other = park["other"].id
    put_in(dlg_app, other, "depose")
    agent = client_for(dlg_app, "calvados")
    version = str(dialogue(dlg_app, other)["version"])
    before = snapshot(dlg_app)
    for data, message in (({"propose_inconnue": "1", "motif_inconnue": "x"}, "Ligne inconnue"),
                          ({"propose_charges_1": "1000"}, "motivez la proposition"),
                          ({}, "Aucune proposition")):
        answer = post(agent, f"/dialogue/{other}/proposer", {"version": version, **data}, follow_redirects=True)
        assert answer.status_code == 200 and message in text(answer), message
    assert snapshot(dlg_app) == before


def test_late_answers_are_flagged_and_reminders_listed(dlg_app, park):
    from app.campagnes.dialogue_suivi import late
    from models.dialogue import DialogueBudgetaire

    other = park["other"].id
    put_in(dlg_app, other, "propose", echeance_reponse=dt.date.today() - dt.timedelta(days=2))
    with dlg_app.app_context():
        assert "réponse de l'opérateur en retard" in late(session(dlg_app).get(DialogueBudgetaire, other),
                                                           dt.date.today())
    agent = client_for(dlg_app, "calvados")
    todo = agent.get("/a-traiter/").get_data(as_text=True)
    assert "Dialogue budgétaire : échéances et relances" in todo
    assert park["other"].code_dna in todo and "En retard" in todo
    assert "En retard" in agent.get(f"/dialogue/?annee={YEAR}").get_data(as_text=True)
    # late, the agent may decide without the answer: the State's proposal is retained
    answer = post(agent, f"/dialogue/{other}/decider", {"version": str(dialogue(dlg_app, other)["version"])})
    assert answer.status_code == 302
    state = dialogue(dlg_app, other)
    assert state["statut"] == "decide" and state["dotation"] == Decimal("450000")


def test_dashboard_and_export_of_the_territory(dlg_app, park):
    import openpyxl

    agent = client_for(dlg_app, "calvados")
    board = agent.get(f"/dialogue/tableau-de-bord?annee={YEAR}")
    assert board.status_code == 200 and "Durée médiane de chaque étape" in text(board)
    assert agent.get(f"/dialogue/tableau-de-bord?annee={YEAR}&niveau=departement&code=14").status_code == 200
    assert agent.get(f"/dialogue/tableau-de-bord?annee={YEAR}&niveau=departement&code=zz").status_code == 404
    book = openpyxl.load_workbook(io.BytesIO(agent.get(f"/dialogue/export.xlsx?annee={YEAR}").data))
    codes = {row[0] for row in book.active.iter_rows(min_row=2, values_only=True)}
    assert park["paris"].code_dna not in codes
    centrale = client_for(dlg_app, "centrale")
    book = openpyxl.load_workbook(io.BytesIO(centrale.get(f"/dialogue/export.xlsx?annee={YEAR}").data))
    assert park["paris"].code_dna in {row[0] for row in book.active.iter_rows(min_row=2, values_only=True)}
