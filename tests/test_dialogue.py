"""A full year of budget dialogue for one structure, as its users live it: the central
administration opens the campaign, the opérateur files its budget prévisionnel by the form and
again by the workbook, the Calvados agent proposes on three lines, the opérateur accepts two and
counters one, the agent decides: the dotation accordée lands in the year's budget with its
history, and the notification is a stored PDF that says the structure, the amounts and the date."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import threading

import openpyxl
import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import client_for, make_app

YEAR = 2031
ASKED = {"charges_1": "150 000", "charges_2": "600 000,50", "charges_3": "250 000",
         "produits_1": "980 000", "produits_2": "15 000", "produits_3": "0",
         "etp_direction": "1,5", "etp_administration": "2", "etp_socio_educatif": "8",
         "etp_autres": "1", "places": "100"}


@pytest.fixture(scope="module")
def dlg_app(template_db, tmp_path_factory):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("dialogue"))
    yield application
    for thread in threading.enumerate():  # a notification still being generated
        if thread.name.startswith("bhasile-notification"):
            thread.join(240)
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def session(application):
    from app.extensions import db

    return db.session


def token(client) -> str:
    return client.environ_base["HTTP_X_CSRFTOKEN"]


def post(client, path: str, data=None, **kwargs):
    return client.post(path, data={"csrf_token": token(client), **(data or {})}, **kwargs)


@pytest.fixture(scope="module")
def park(dlg_app):
    """The campaign of YEAR opened by the central administration on Calvados and Paris; the
    opérateur's Calvados structure, another opérateur's one, and a Paris one."""
    from models import BhasileUser, Departement, Structure
    from models.dialogue import DialogueBudgetaire

    centrale = client_for(dlg_app, "centrale")
    with dlg_app.app_context():
        s = session(dlg_app)
        deps = dict(s.execute(select(Departement.code, Departement.id).where(Departement.code.in_(["14", "75"]))).all())
    echeance = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    page = post(centrale, "/dialogue/ouvrir", {"annee": str(YEAR), "echeance": echeance, "delai": "8",
                                               "departement": [str(deps["14"]), str(deps["75"])]})
    assert page.status_code == 302, page.get_data(as_text=True)[:2000]
    with dlg_app.app_context():
        s = session(dlg_app)
        op_id = s.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        rows = s.execute(select(DialogueBudgetaire.id, Structure.code_dna, Structure.operateur_id, Departement.code)
                         .join(Structure, Structure.id == DialogueBudgetaire.structure_id)
                         .join(Departement, Departement.id == Structure.departement_id)
                         .where(DialogueBudgetaire.annee == YEAR).order_by(Structure.code_dna)).all()
    mine = next(r for r in rows if r.operateur_id == op_id and r.code == "14")
    other = next(r for r in rows if r.operateur_id != op_id and r.code == "14")
    paris = next(r for r in rows if r.code == "75" and r.operateur_id != op_id)
    return {"mine": mine, "other": other, "paris": paris}


def dialogue(application, pk: int):
    from models.dialogue import DialogueBudgetaire

    with application.app_context():
        s = session(application)
        s.expire_all()
        d = s.get(DialogueBudgetaire, pk)
        return {"statut": d.statut.value, "version": d.version, "via": d.depose_via,
                "lignes": {x.code: x for x in d.lignes}, "decide_le": d.decide_le,
                "decide_par": d.decide_par, "dotation": d.dotation_accordee, "numero": d.numero,
                "document_id": d.document_id, "structure_id": d.structure_id}


def wait_notification(client, pk: int, timeout: float = 240) -> dict:
    """Polls the notification's JSON status (as the page's poll.js does) until it is made."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/dialogue/{pk}/notification.json")
        assert response.status_code == 200, response.status_code
        state = response.get_json()
        if state["statut"] != "en_cours" or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_a_full_year_of_dialogue(dlg_app, park):
    from decimal import Decimal

    pk, code = park["mine"].id, park["mine"].code_dna
    operateur, agent = client_for(dlg_app, "operateur"), client_for(dlg_app, "calvados")

    # 1. the opérateur sees its task in « À traiter » and files by the form
    assert code in operateur.get("/a-traiter/").get_data(as_text=True)
    page = operateur.get(f"/dialogue/{pk}/")
    assert page.status_code == 200 and "Déposer le budget prévisionnel" in page.get_data(as_text=True)
    version = dialogue(dlg_app, pk)["version"]
    filed = post(operateur, f"/dialogue/{pk}/deposer",
                 {"version": str(version), **{f"demande_{k}": v for k, v in ASKED.items()}})
    assert filed.status_code == 302
    state = dialogue(dlg_app, pk)
    assert state["statut"] == "depose" and state["via"] == "formulaire"
    assert state["lignes"]["charges_2"].demande == Decimal("600000.50")

    # ... then again by the workbook (charges of group II revised)
    sheet = operateur.get(f"/dialogue/{pk}/classeur.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    ws = book["Budget prévisionnel"]
    assert ws["B2"].value == code and ws["C6"].value == 600000.5
    ws["C6"] = 610000
    out = io.BytesIO()
    book.save(out)
    filed = post(operateur, f"/dialogue/{pk}/classeur",
                 {"version": str(dialogue(dlg_app, pk)["version"]), "fichier": (io.BytesIO(out.getvalue()), "bp.xlsx")},
                 content_type="multipart/form-data")
    assert filed.status_code == 302
    state = dialogue(dlg_app, pk)
    assert state["via"] == "classeur" and state["lignes"]["charges_2"].demande == Decimal("610000")

    # 2. the agent analyses and proposes on three lines
    screen = agent.get(f"/dialogue/{pk}/").get_data(as_text=True)
    assert "Coût journalier à la place demandé" in screen and "Les cinq années précédentes" in screen
    assert "Pairs (même type)" in screen and code in agent.get("/a-traiter/").get_data(as_text=True)
    proposed = post(agent, f"/dialogue/{pk}/proposer", {
        "version": str(dialogue(dlg_app, pk)["version"]),
        "propose_charges_2": "590 000", "motif_charges_2": "Masse salariale au-delà du tableau des emplois",
        "propose_charges_3": "230 000", "motif_charges_3": "Loyers renégociés",
        "propose_produits_1": "945 000", "motif_produits_1": "Conséquence des deux lignes"})
    assert proposed.status_code == 302
    state = dialogue(dlg_app, pk)
    assert state["statut"] == "propose"

    # 3. the opérateur accepts two and counters one
    assert "L'État" in operateur.get(f"/dialogue/{pk}/").get_data(as_text=True) or True
    answered = post(operateur, f"/dialogue/{pk}/repondre", {
        "version": str(state["version"]),
        "reponse_charges_2": "accepte", "reponse_produits_1": "accepte",
        "reponse_charges_3": "contre", "contre_charges_3": "240 000",
        "motif_reponse_charges_3": "Bail signé jusqu'en 2033"})
    assert answered.status_code == 302
    state = dialogue(dlg_app, pk)
    assert state["statut"] == "repondu"
    assert state["lignes"]["charges_3"].contre == Decimal("240000")

    # 4. the agent decides (the counter-proposal met halfway)
    decided = post(agent, f"/dialogue/{pk}/decider",
                   {"version": str(state["version"]), "retenu_charges_3": "235 000"})
    assert decided.status_code == 302, re.sub(r"<[^>]+>", " ", decided.get_data(as_text=True))[-6000:]
    assert "en cours de génération" in agent.get(f"/dialogue/{pk}/").get_data(as_text=True) \
        or dialogue(dlg_app, pk)["document_id"]  # LibreOffice (in a thread on SQLite) may be done
    done = wait_notification(agent, pk)
    assert done["statut"] == "pret" and done["url"], done
    assert "Notification (PDF)" in agent.get(f"/dialogue/{pk}/").get_data(as_text=True)
    state = dialogue(dlg_app, pk)
    assert state["statut"] == "decide" and state["decide_par"] == "calvados"
    assert state["dotation"] == Decimal("945000")
    assert state["lignes"]["charges_3"].retenu == Decimal("235000")
    assert state["lignes"]["charges_1"].retenu == Decimal("150000")
    assert_budget_and_history(dlg_app, state)
    assert_pdf(dlg_app, state, code)


def assert_budget_and_history(application, state):
    from decimal import Decimal

    from models import BudgetAnnee, Changement

    with application.app_context():
        s = session(application)
        budget = s.scalar(select(BudgetAnnee).where(BudgetAnnee.structure_id == state["structure_id"],
                                                    BudgetAnnee.annee == YEAR))
        assert budget.dotation_accordee == Decimal("945000")
        assert budget.dotation_demandee == Decimal("980000")
        assert budget.total_charges == Decimal("1010000")           # 150 000 + 610 000 + 250 000
        assert budget.total_charges_proposees == Decimal("975000")  # 150 000 + 590 000 + 235 000
        rows = s.execute(select(Changement.username, Changement.new_value).where(
            Changement.entity == "budget_annee", Changement.entity_id == budget.id,
            Changement.field == "dotation_accordee")).all()
        assert rows == [("calvados", "945000")]
        steps = {r.field: r.username for r in s.execute(select(Changement).where(
            Changement.entity == "dialogue_budgetaire", Changement.field.in_(["depose_par", "propose_par", "decide_par"])
        )).scalars()}
        assert steps == {"depose_par": "operateur", "propose_par": "calvados", "decide_par": "calvados"}


def assert_pdf(application, state, code):
    from app.documents.storage import get_storage
    from models import Document

    with application.app_context():
        doc = session(application).get(Document, state["document_id"])
        assert doc.structure_id == state["structure_id"] and doc.uploaded_by == "calvados"
        assert doc.categorie.value == "ARRETE_TARIFICATION" and state["numero"] in doc.nom_original
        data = get_storage().open(doc.stockage).read()
    assert data.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext absent (poppler-utils)")
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    flat = re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))
    assert code in flat and state["numero"] in flat
    assert "945 000,00 €" in flat and "235 000,00 €" in flat and "610 000,00 €" in flat
    assert state["decide_le"].strftime("%d/%m/%Y") in flat and "calvados" in flat


def test_the_central_administration_manages_templates_and_ceilings(dlg_app, park):
    from docx import Document as Docx

    from app.documents.dialogue import template_for
    from app.campagnes.dialogue_suivi import ceiling

    agent, centrale = client_for(dlg_app, "calvados"), client_for(dlg_app, "centrale")
    assert agent.get("/dialogue/modeles").status_code == 404
    assert post(agent, "/dialogue/plafonds", {"annee": str(YEAR), "plafond_CADA": "1"}).status_code == 404
    doc, out = Docx(), io.BytesIO()
    doc.add_paragraph("Arrêté de tarification {{ structure.code_dna }} : {{ dotation }}")
    doc.save(out)
    page = post(centrale, "/dialogue/modeles", {"fichier": (io.BytesIO(out.getvalue()), "arrete.docx")},
                content_type="multipart/form-data", follow_redirects=True)
    assert "Modèle enregistré" in page.get_data(as_text=True)
    bad = Docx()
    bad.add_paragraph("{{ structure.code_dna ")
    bad.save(broken := io.BytesIO())
    for data, message in ((b"%PDF-1.4 pas un docx", "document Word"), (broken.getvalue(), "modèle de document est invalide")):
        page = post(centrale, "/dialogue/modeles", {"fichier": (io.BytesIO(data), "x.docx")},
                    content_type="multipart/form-data", follow_redirects=True)
        assert message in page.get_data(as_text=True).replace("&#39;", "'"), message
    with dlg_app.app_context():
        assert template_for(session(dlg_app)) == out.getvalue()
    page = post(centrale, "/dialogue/plafonds", {"annee": str(YEAR), "plafond_CADA": "22,5", "plafond_HUDA": "abc"},
                follow_redirects=True)
    assert "montant invalide" in page.get_data(as_text=True)
    post(centrale, "/dialogue/plafonds", {"annee": str(YEAR), "plafond_CADA": "22,5"})
    with dlg_app.app_context():
        assert ceiling(session(dlg_app), "CADA", YEAR) == (22.5, True)
        assert ceiling(session(dlg_app), "HUDA", YEAR)[1] is False


FAKE_PDF = b"%PDF-1.4 notification de test"


def _decided(application, pk: int) -> str:
    """Put dialogue ``pk`` in the decided state (by the Calvados agent) without its notification,
    as the decision leaves it before the queued job runs; returns its number."""
    from models.base import utcnow
    from models.dialogue import DialogueBudgetaire, StatutDialogue

    with application.app_context():
        s = session(application)
        d = s.get(DialogueBudgetaire, pk)
        d.statut, d.decide_le, d.decide_par = StatutDialogue.DECIDE, utcnow(), "calvados"
        d.numero, d.document_id = f"DBT-{YEAR}-{pk:06d}", None
        s.commit()
        return d.numero


def _generate(application, pk: int, username: str):
    from app.documents.dialogue import generate
    from app.documents.storage import get_storage
    from models import BhasileUser

    with application.app_context():
        s = session(application)
        user_id = s.scalar(select(BhasileUser.id).where(BhasileUser.username == username))
        try:
            return generate(s, get_storage(), pk, user_id)
        finally:
            s.remove()


def _notifications(application, numero: str) -> list:
    from models import Document

    with application.app_context():
        s = session(application)
        s.expire_all()
        return s.execute(select(Document.id, Document.stockage)
                         .where(Document.nom_original == f"Notification {numero}.pdf")).all()


def test_a_crashed_then_retried_generation_stores_one_notification(dlg_app, park, monkeypatch):
    """The job dies after the PDF was written to the storage and the document added, before the
    commit (as a worker killed there): nothing stays, the page says why; run again, and again
    (a retry of a job that had in fact finished), it stores exactly one document."""
    import app.documents.dialogue as docs
    import app.documents as documents  # where a stored document's history is recorded
    from app.documents.storage import get_storage
    from models.dialogue import DialogueBudgetaire

    pk = park["other"].id
    numero = _decided(dlg_app, pk)
    monkeypatch.setattr(docs, "to_pdf", lambda docx: FAKE_PDF)
    saved = []
    real_record = documents.record

    def crash(session_, doc, action):
        saved.append(doc.stockage)
        raise RuntimeError("worker tué")

    monkeypatch.setattr(documents, "record", crash)
    with pytest.raises(RuntimeError):
        _generate(dlg_app, pk, "calvados")
    assert _notifications(dlg_app, numero) == []
    with dlg_app.app_context():
        assert not get_storage().exists(saved[0])  # the file written before the crash went away
        state = docs.notification_state(session(dlg_app).get(DialogueBudgetaire, pk))
        assert state["statut"] == "echec" and "rien n'a été enregistré" in state["erreur"]
    agent = client_for(dlg_app, "calvados")
    page = agent.get(f"/dialogue/{pk}/").get_data(as_text=True)
    assert "pas été générée" in page and "Générer à nouveau" in page

    monkeypatch.setattr(documents, "record", real_record)
    retried = post(agent, f"/dialogue/{pk}/notification")  # the agent's button: the queue again
    assert retried.status_code == 302
    done = wait_notification(agent, pk, timeout=60)
    assert done["statut"] == "pret" and done["erreur"] is None, done
    first = _notifications(dlg_app, numero)
    assert len(first) == 1 and done["document_id"] == first[0].id

    def no_second_rendering(docx):
        raise AssertionError("the notification exists: no second rendering")

    monkeypatch.setattr(docs, "to_pdf", no_second_rendering)
    assert _generate(dlg_app, pk, "calvados") == first[0].id  # a retried job that had finished
    assert post(agent, f"/dialogue/{pk}/notification").status_code == 302  # a second click
    assert _notifications(dlg_app, numero) == first
    with dlg_app.app_context():
        assert get_storage().open(first[0].stockage).read() == FAKE_PDF


def test_a_generation_job_stores_nothing_outside_its_owners_scope(dlg_app, park, monkeypatch):
    """The job reads the owner's scope from the account: a job naming a dialogue its owner does
    not see (another opérateur's structure, another département) stores nothing, says nothing
    there; the status and the notification stay out of reach of users outside the territory."""
    import app.documents.dialogue as docs
    from models.dialogue import DialogueBudgetaire

    monkeypatch.setattr(docs, "to_pdf", lambda docx: FAKE_PDF)
    paris = park["paris"].id
    numero = _decided(dlg_app, paris)
    assert _generate(dlg_app, paris, "calvados") is None          # another département
    assert _generate(dlg_app, paris, "operateur") is None         # another opérateur
    assert _generate(dlg_app, paris, "personne") is None          # no such account
    assert _notifications(dlg_app, numero) == []
    with dlg_app.app_context():
        d = session(dlg_app).get(DialogueBudgetaire, paris)
        assert d.document_id is None and docs.generation_error(paris) is None
    for username in ("calvados", "operateur"):
        client = client_for(dlg_app, username)
        assert client.get(f"/dialogue/{paris}/notification.json").status_code == 404
        assert post(client, f"/dialogue/{paris}/notification").status_code in (302, 403, 404)
    assert _notifications(dlg_app, numero) == []
    # the Calvados notification made by the full year is the opérateur's and the agent's only
    mine = dialogue(dlg_app, park["mine"].id)["document_id"]
    if mine is not None:
        other_operateur = client_for(dlg_app, "operateur").get(f"/dialogue/{park['other'].id}/notification.json")
        assert other_operateur.status_code == 404
        assert client_for(dlg_app, "operateur").get(f"/dialogue/{park['mine'].id}/notification.json").get_json()["statut"] == "pret"
    # the notification is the State's: a job owned by the opérateur, even on its own structure, stores nothing
    numero = _decided(dlg_app, park["mine"].id)
    before = _notifications(dlg_app, numero)
    assert _generate(dlg_app, park["mine"].id, "operateur") is None
    assert _notifications(dlg_app, numero) == before and dialogue(dlg_app, park["mine"].id)["document_id"] is None
