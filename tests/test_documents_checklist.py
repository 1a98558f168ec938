"""The checklist: which documents each structure owes for a year, and which are still missing."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import client_for, make_app


@pytest.fixture(scope="module")
def checklist_app(template_db, tmp_path_factory):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("checklist"))
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


_SEQ = iter(range(1, 10_000))


def new_structure(kind: str, created: int = 2010, departement: str = "14") -> int:
    from app.extensions import db
    from models import Departement, Operateur, Structure
    from models.enums import TypeStructure

    dep = db.session.scalar(select(Departement.id).where(Departement.code == departement))
    operateur = db.session.scalars(select(Operateur.id).order_by(Operateur.id).limit(1)).one()
    structure = Structure(code_dna=f"{kind[0]}T{next(_SEQ):05d}", type=TypeStructure(kind),
                          departement_id=dep, operateur_id=operateur,
                          date_creation=dt.date(created, 3, 1))
    db.session.add(structure)
    db.session.commit()
    return structure.id


def add_document(categorie: str, annee=None, debut=None, fin=None, **owner) -> int:
    from app.extensions import db
    from app.documents.storage import new_key
    from models import Document
    from models.enums import CategorieDocument

    doc = Document(categorie=CategorieDocument(categorie), annee=annee, periode_debut=debut,
                   periode_fin=fin, nom_original="piece.pdf", taille=1, mime_type="application/pdf",
                   stockage=new_key(), **owner)
    db.session.add(doc)
    db.session.commit()
    return doc.id


def add_cpom(structure_id: int, start: int, end: int, statut: str = "SIGNEE") -> int:
    from app.extensions import db
    from models import Convention, ConventionStructure, Structure
    from models.enums import StatutConvention, TypeConvention

    structure = db.session.get(Structure, structure_id)
    cpom = Convention(reference=f"CPOM-TEST-{next(_SEQ)}", type=TypeConvention.CPOM,
                      operateur_id=structure.operateur_id, statut=StatutConvention(statut),
                      date_debut=dt.date(start, 1, 1), date_fin=dt.date(end, 12, 31))
    cpom.structures.append(ConventionStructure(structure_id=structure_id, annee_entree=start,
                                               annee_sortie=end))
    db.session.add(cpom)
    db.session.commit()
    return cpom.id


def owed(structure_id: int, year: int) -> dict[str, tuple]:
    from app.documents import evaluate
    from app.extensions import db

    return {i.categorie.value: (i.annee, bool(i.documents)) for i in evaluate(db.session, [structure_id], year)}


def test_an_authorised_structure_owes_budgets_accounts_and_arretes(checklist_app):
    with checklist_app.app_context():
        sid = new_structure("CADA")
        assert owed(sid, 2026) == {
            "ARRETE_AUTORISATION": (None, False), "ARRETE_TARIFICATION": (2026, False),
            "BUDGET_PREVISIONNEL_DEMANDE": (2026, False), "BUDGET_PREVISIONNEL_RETENU": (2026, False),
            "COMPTE_ADMINISTRATIF_SOUMIS": (2025, False), "RAPPORT_ACTIVITE": (2025, False),
            "COMPTE_ADMINISTRATIF_RETENU": (2024, False)}
        add_document("ARRETE_AUTORISATION", structure_id=sid)
        add_document("BUDGET_PREVISIONNEL_DEMANDE", annee=2026, structure_id=sid)
        add_document("COMPTE_ADMINISTRATIF_SOUMIS", annee=2024, structure_id=sid)  # the wrong year
        add_document("COMPTE_ADMINISTRATIF_RETENU", debut=dt.date(2024, 1, 1), fin=dt.date(2024, 12, 31),
                     structure_id=sid)
        status = owed(sid, 2026)
        assert status["ARRETE_AUTORISATION"] == (None, True)
        assert status["BUDGET_PREVISIONNEL_DEMANDE"] == (2026, True)
        assert status["COMPTE_ADMINISTRATIF_SOUMIS"] == (2025, False)
        assert status["COMPTE_ADMINISTRATIF_RETENU"] == (2024, True)
        assert owed(sid, 2027)["BUDGET_PREVISIONNEL_DEMANDE"] == (2027, False)


def test_a_subsidised_structure_owes_its_request_report_and_convention(checklist_app):
    with checklist_app.app_context():
        sid = new_structure("HUDA")
        assert owed(sid, 2026) == {
            "CONVENTION": (2026, False), "DEMANDE_SUBVENTION": (2026, False),
            "COMPTE_RENDU_FINANCIER": (2025, False), "RAPPORT_ACTIVITE_OPERATEUR": (2025, False)}
        add_document("CONVENTION", debut=dt.date(2025, 1, 1), fin=dt.date(2027, 12, 31), structure_id=sid)
        assert owed(sid, 2026)["CONVENTION"] == (2026, True)


def test_the_operateur_report_can_be_filed_on_the_operateur(checklist_app):
    with checklist_app.app_context():
        from app.extensions import db
        from models import Structure

        sid = new_structure("CAES")
        add_document("RAPPORT_ACTIVITE_OPERATEUR", annee=2025,
                     operateur_id=db.session.get(Structure, sid).operateur_id)
        assert owed(sid, 2026)["RAPPORT_ACTIVITE_OPERATEUR"] == (2025, True)


def test_a_structure_in_a_cpom_owes_the_cpom_instead_of_a_convention(checklist_app):
    with checklist_app.app_context():
        sid = new_structure("HUDA")
        cpom = add_cpom(sid, 2025, 2029)
        status = owed(sid, 2026)
        assert "CONVENTION" not in status and status["CPOM"] == (2026, False)
        add_document("CPOM", convention_id=cpom)  # undated: the CPOM's own years count
        add_document("DEMANDE_SUBVENTION", annee=2026, convention_id=cpom)
        status = owed(sid, 2026)
        assert status["CPOM"] == (2026, True) and status["DEMANDE_SUBVENTION"] == (2026, True)
        assert "CPOM" not in owed(sid, 2024)
        draft = new_structure("CADA")
        add_cpom(draft, 2025, 2029, statut="BROUILLON")
        assert "CPOM" not in owed(draft, 2026)


def test_nothing_is_owed_for_years_before_the_structure_existed(checklist_app):
    with checklist_app.app_context():
        sid = new_structure("CADA", created=2026)
        assert set(owed(sid, 2026)) == {"ARRETE_AUTORISATION", "ARRETE_TARIFICATION",
                                        "BUDGET_PREVISIONNEL_DEMANDE", "BUDGET_PREVISIONNEL_RETENU"}
        assert owed(new_structure("PRAHDA"), 2026) == {}


def test_missing_documents_follow_the_users_territory(checklist_app):
    with checklist_app.app_context():
        mine, elsewhere = new_structure("CADA"), new_structure("CADA", departement="33")
    client = client_for(checklist_app, "calvados")
    with checklist_app.test_request_context():
        from flask import g

        from app.documents import missing_documents
        from app.extensions import db
        from models import BhasileUser

        g.user = db.session.scalar(select(BhasileUser).where(BhasileUser.username == "calvados"))
        found = {item.structure_id for item in missing_documents(db.session, year=2026)}
        assert mine in found and elsewhere not in found
        assert len(missing_documents(db.session, [mine], 2026)) == 7
    page = client.get(f"/documents/structure/{mine}/?annee=2026").get_data(as_text=True)
    assert "Documents attendus pour 2026" in page and "7 document(s) manquant(s)." in page
    assert "Compte administratif retenu" in page and "Manquant" in page
    assert client.get(f"/documents/structure/{elsewhere}/").status_code == 404
