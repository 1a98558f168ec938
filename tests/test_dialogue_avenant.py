"""For a structure under convention (a CPOM member here), the decision also drafts the avenant
to the convention from the central administration's template of kind « avenant » (the same
generation as the notification): stored with the structure's documents, numbered, validated
by the deciding agent, and its text holds the structure's code, places and amount."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from tests.conftest import client_for
from tests.test_dialogue import YEAR, dialogue, dlg_app, park, post, session, wait_notification  # noqa: F401
from tests.test_dialogue_gate import put_in, snapshot, text


def in_a_cpom(application, structure_ids: list[int]) -> int:
    """A signed CPOM covering the year, with these structures as members."""
    from models import Convention, ConventionStructure, Structure
    from models.enums import StatutConvention, TypeConvention

    with application.app_context():
        s = session(application)
        operateur_id = s.get(Structure, structure_ids[0]).operateur_id
        cpom = Convention(reference="CPOMAVT2031", type=TypeConvention.CPOM, operateur_id=operateur_id,
                          statut=StatutConvention.SIGNEE, date_debut=dt.date(YEAR - 1, 1, 1),
                          date_fin=dt.date(YEAR + 3, 12, 31), montant=Decimal("5000000"))
        cpom.structures = [ConventionStructure(structure_id=i) for i in structure_ids]
        s.add(cpom)
        s.commit()
        return cpom.id


def test_the_decision_drafts_the_avenant_of_a_cpom_member(dlg_app, park):
    from app.documents.dialogue import AVENANT, template_for
    from app.documents.storage import get_storage
    from models import Document
    from models.dialogue import DialogueLigne

    centrale, agent = client_for(dlg_app, "centrale"), client_for(dlg_app, "calvados")
    # the central administration's avenant template: an unknown kind, a broken one are refused
    before = snapshot(dlg_app)
    for nature, data, message in (("arrete", b"x", "Nature de modèle inconnue"),
                                  ("avenant", b"%PDF-1.4 pas un docx", "document Word")):
        page = post(centrale, "/dialogue/modeles", {"nature": nature, "fichier": (io.BytesIO(data), "a.docx")},
                    content_type="multipart/form-data", follow_redirects=True)
        assert page.status_code == 200 and message in text(page), message
    assert snapshot(dlg_app) == before

    other = park["other"]
    put_in(dlg_app, other.id, "repondu")
    with dlg_app.app_context():
        from models.dialogue import DialogueBudgetaire

        s = session(dlg_app)
        d = s.get(DialogueBudgetaire, other.id)
        structure_id = d.structure_id
        d.lignes.append(DialogueLigne(code="places", rang=10, demande=Decimal("87")))
        s.commit()
        assert template_for(s, AVENANT).startswith(b"PK")  # the default one
    in_a_cpom(dlg_app, [structure_id, dialogue(dlg_app, park["mine"].id)["structure_id"]])

    decided = post(agent, f"/dialogue/{other.id}/decider", {"version": str(dialogue(dlg_app, other.id)["version"]),
                                                            "retenu_produits_1": "465 000"}, follow_redirects=True)
    assert decided.status_code == 200 and f"Projet d'avenant rédigé (Avenant AVT-{YEAR}-" in text(decided)
    assert "Projet d'avenant (PDF)" in text(decided)
    assert wait_notification(agent, other.id)["statut"] == "pret"  # the notification comes from the queue
    with dlg_app.app_context():
        s = session(dlg_app)
        s.expire_all()
        d = s.get(DialogueBudgetaire, other.id)
        assert d.statut.value == "decide" and d.dotation_accordee == Decimal("465000")
        doc = s.get(Document, d.avenant_document_id)
        numero = f"AVT-{YEAR}-{d.id:06d}"
        assert doc.structure_id == structure_id and doc.nom_original == f"Avenant {numero}.pdf"
        assert doc.categorie.value == "CPOM" and doc.uploaded_by == "calvados" and doc.uploaded_at == d.decide_le
        assert d.document_id != doc.id and s.get(Document, d.document_id).categorie.value == "ARRETE_TARIFICATION"
        data = get_storage().open(doc.stockage).read()
    assert data.startswith(b"%PDF")
    # drafted once: a second draft is refused, in French, writing nothing
    operateur = client_for(dlg_app, "operateur")  # (a login is in the history)
    before = snapshot(dlg_app)
    again = post(agent, f"/dialogue/{other.id}/avenant", {"version": str(dialogue(dlg_app, other.id)["version"])},
                 follow_redirects=True)
    assert again.status_code == 200 and "déjà rédigé" in text(again)
    # the opérateur never drafts it (its own structure, not yet decided: the role first)
    mine = park["mine"].id
    assert post(operateur, f"/dialogue/{mine}/avenant",
                {"version": str(dialogue(dlg_app, mine)["version"])}).status_code == 403
    assert post(operateur, f"/dialogue/{other.id}/avenant", {"version": "1"}).status_code == 404
    assert snapshot(dlg_app) == before
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext absent (poppler-utils)")
    flat = re.sub(r"\s+", " ", subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                                              check=True).stdout.decode().replace("\u202f", " ").replace("\xa0", " "))
    assert other.code_dna in flat and numero in flat and "CPOMAVT2031" in flat
    assert "87 places" in flat and "465 000,00 €" in flat and "calvados" in flat
    assert park["mine"].code_dna in flat  # the CPOM's members


def test_an_uploaded_avenant_template_serves_the_avenants_only(dlg_app, park):
    from docx import Document as Docx

    from app.documents.dialogue import AVENANT, NOTIFICATION, template_for

    centrale = client_for(dlg_app, "centrale")
    doc, out = Docx(), io.BytesIO()
    doc.add_paragraph("Avenant {{ numero }} à {{ convention.reference }} : {{ membres|length }} membres")
    doc.save(out)
    page = post(centrale, "/dialogue/modeles", {"nature": "avenant", "fichier": (io.BytesIO(out.getvalue()), "avenant.docx")},
                content_type="multipart/form-data", follow_redirects=True)
    assert "Modèle enregistré" in text(page) and "Avenant à la convention" in text(page)
    with dlg_app.app_context():
        assert template_for(session(dlg_app), AVENANT) == out.getvalue()
        assert template_for(session(dlg_app), NOTIFICATION) != out.getvalue()  # still the default one
