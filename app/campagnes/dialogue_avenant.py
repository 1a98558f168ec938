"""The draft avenant a decision generates for a structure under convention.

HUDA, CAES and PRAHDA are financed under a convention, and any structure may belong to a CPOM:
for them, besides the notification, the decision drafts the avenant to that convention from the
central administration's template of kind « avenant » (the same generation as the notification,
``app.documents.dialogue``: docxtpl, LibreOffice, the structure's documents), with the
structure's data (places, amounts, dates, opérateur, the CPOM's members). The draft is
numbered (``AVT-<année>-<dialogue>``), stored with the structure's documents and marked
validated by the deciding agent (author and date of the decision).
"""
from __future__ import annotations

import io
from typing import Any, Optional

from docx import Document as DocxDocument
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.campagnes.dialogue import AGENT, DialogueError, _gate, places_of
from app.documents.dialogue import (AVENANT, KINDS, context, euros, render_docx, store_decision,
                                    template_for, to_pdf)
from app.gate import Gate, WriteRefused
from app.pilotage.indicators import cout_journalier
from app.scope import Scope
from app.documents.storage import Storage
from models import Convention, ConventionStructure, Document, Structure
from models.convention import CURRENT_STATUTS, CURRENT_TYPES
from models.dialogue import DialogueBudgetaire, StatutDialogue
from models.enums import CategorieDocument, TypeConvention, TypeStructure

#: The types financed under a convention (the others, établissements, by arrêté — unless in a CPOM).
CONVENTIONNES = (TypeStructure.HUDA, TypeStructure.CAES, TypeStructure.PRAHDA)


def convention_of(session: Session, dialogue: DialogueBudgetaire) -> Optional[Convention]:
    """The convention an avenant amends: the structure's CPOM, else (a type under convention)
    its convention; signed, in force on the year of the budget first, else the latest."""
    structure = dialogue.structure
    types = [TypeConvention.CPOM]
    if structure.type in CONVENTIONNES:
        types += [TypeConvention.CONVENTION, TypeConvention.AVENANT]
    start, end = func.coalesce(Convention.date_debut, Convention.date_fin), Convention.date_fin
    year = dialogue.annee
    in_force = and_(or_(Convention.date_debut.is_(None), func.extract("year", Convention.date_debut) <= year),
                    or_(end.is_(None), func.extract("year", end) >= year))
    return session.scalars(
        select(Convention).join(ConventionStructure, ConventionStructure.convention_id == Convention.id)
        .where(ConventionStructure.structure_id == structure.id, Convention.statut.in_(CURRENT_STATUTS),
               Convention.type.in_([t for t in types if t in CURRENT_TYPES]))
        .order_by(case((Convention.type == TypeConvention.CPOM, 0), else_=1), case((in_force, 0), else_=1),
                  start.desc(), Convention.id.desc()).limit(1)).first()


def numero(dialogue: DialogueBudgetaire) -> str:
    return f"AVT-{dialogue.annee}-{dialogue.id:06d}"


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "–"


def avenant_context(session: Session, dialogue: DialogueBudgetaire, convention: Convention) -> dict[str, Any]:
    """The notification's fields, the avenant's number and its convention (reference, type,
    dates, amount, opérateur, members)."""
    places = places_of(session, dialogue)
    values = context(dialogue, places, cout_journalier(dialogue.dotation_accordee, places, dialogue.annee))
    members = session.execute(select(Structure.code_dna, Structure.nom, Structure.type)
                              .join(ConventionStructure, ConventionStructure.structure_id == Structure.id)
                              .where(ConventionStructure.convention_id == convention.id)
                              .order_by(Structure.code_dna)).all()
    values.update({
        "numero": numero(dialogue), "numero_decision": dialogue.numero,
        "convention": {"reference": convention.reference, "type": str(convention.type.label),
                       "date_debut": _date(convention.date_debut), "date_fin": _date(convention.date_fin),
                       "montant": euros(convention.montant),
                       "operateur": convention.operateur.nom if convention.operateur else values["operateur"]},
        "cpom": convention.type is TypeConvention.CPOM,
        "membres": [{"code_dna": m.code_dna, "nom": m.nom or "", "type": m.type.value} for m in members],
    })
    return values


def default_template() -> bytes:
    """The avenant's template when the administration has uploaded none."""
    doc = DocxDocument()
    doc.add_heading("Avenant n° {{ numero }} à la convention {{ convention.reference }} ({{ convention.type }})",
                    level=1)
    doc.add_paragraph("Projet établi à la suite de la décision de tarification n° {{ numero_decision }} "
                      "du {{ date_decision }}.")
    doc.add_paragraph("Entre l'État (département {{ departement }}) et l'opérateur {{ convention.operateur }}.")
    doc.add_paragraph("Convention en vigueur du {{ convention.date_debut }} au {{ convention.date_fin }}.")
    doc.add_heading("Article 1 – Capacité et financement pour l'exercice {{ annee }}", level=2)
    doc.add_paragraph("La structure {{ structure.code_dna }} – {{ structure.nom }} ({{ structure.type }}) "
                      "dispose de {{ places }} places.")
    doc.add_paragraph("La dotation globale de financement est fixée à {{ dotation }} ; total des charges "
                      "retenues : {{ total_charges }} ; coût journalier à la place : {{ cout_journalier }}.")
    doc.add_paragraph("{%p if cpom %}")
    doc.add_heading("Article 2 – Structures membres du CPOM", level=2)
    doc.add_paragraph("{%p for m in membres %}")
    doc.add_paragraph("{{ m.code_dna }} – {{ m.nom }} ({{ m.type }})")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Les autres stipulations de la convention demeurent inchangées.")
    doc.add_paragraph("Validé par {{ agent }} le {{ date_decision }}.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


KINDS[AVENANT] = {
    "default": default_template, "categorie": CategorieDocument.CONVENTION, "nom": "Avenant {n}.pdf",
    "sample": {**KINDS["notification"]["sample"], "numero_decision": "DBT-2000-000000", "cpom": True,
               "convention": {"reference": "C-2000", "type": "CPOM", "date_debut": "", "date_fin": "",
                              "montant": "", "operateur": ""},
               "membres": [{"code_dna": "C0000", "nom": "", "type": "CADA"}]},
}


def draft_avenant(session: Session, storage: Storage, scope: Scope, dialogue: DialogueBudgetaire,
                  version: Any = None) -> Optional[Document]:
    """Draft, store and link the avenant of a decided dialogue whose structure is under
    convention (``None`` when it is not): the agent's step, through the write gate (``version``:
    the one the agent loaded, by default the current one, right after the decision); one
    transaction, nothing kept on a failure."""
    _gate(session, scope, dialogue, {}, dialogue.version if version is None else version, AGENT, False)
    if dialogue.statut is not StatutDialogue.DECIDE:
        raise DialogueError([_("L'avenant se rédige une fois la décision prise.")])
    if dialogue.avenant_document_id is not None:
        raise DialogueError([_("L'avenant de cette décision est déjà rédigé.")])
    convention = convention_of(session, dialogue)
    if convention is None:
        return None
    key = None
    try:
        pdf = to_pdf(render_docx(template_for(session, AVENANT), avenant_context(session, dialogue, convention)))
        doc = store_decision(session, storage, scope, dialogue, pdf, AVENANT, numero(dialogue),
                             CategorieDocument.CPOM if convention.type is TypeConvention.CPOM else None)
        key = doc.stockage
        refused = Gate(scope, session).check(DialogueBudgetaire, dialogue, {"avenant_document_id": doc.id},
                                             rules=False, area=AGENT)
        if refused:
            raise WriteRefused(refused)
        dialogue.avenant_document_id = doc.id
        session.commit()
    except Exception:
        session.rollback()
        if key is not None:
            storage.delete(key)
        raise
    return doc
