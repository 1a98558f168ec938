"""The documents of a decision: a DOCX template (the central administration's, or the default
one) filled by docxtpl with the structure's data, rendered to PDF by LibreOffice headless and
stored with the structure's documents, numbered and signed by the deciding agent.

docxtpl fills a Word document written by the administration in Word, with Jinja fields
(``{{ structure.code_dna }}``, ``{%p for l in lignes %}``): no file format is built by hand.
LibreOffice turns it into PDF in a throw-away profile, with a time limit.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from docx import Document as DocxDocument
from docxtpl import DocxTemplate
from flask_babel import gettext as _
from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import audit_context
from app.campagnes.dialogue import BY_CODE, DialogueError, apply_decision, places_of, prepare_decision, totals
from app.documents import add_document, detect_type, DocumentError
from app.extensions import db
from app.gate import WriteRefused
from app.pilotage.indicators import cout_journalier
from app.jobs.queue import task
from app.scope import find_inside, Scope, scope_of
from app.documents.storage import file_store, get_storage, Storage
from models import BhasileUser, Document
from models.dialogue import DialogueBudgetaire, ModeleDocument
from models.enums import CategorieDocument

NOTIFICATION = "notification"
AVENANT = "avenant"
PDF_TIMEOUT = 180


def euros(value: Optional[Decimal]) -> str:
    """``1 647 860,15 €`` (a narrow no-break space between thousands)."""
    if value is None:
        return "–"
    text = f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} €"


def amount(value: Optional[Decimal], code: str) -> str:
    """A line's amount as printed: euros for charges and produits, a plain number otherwise."""
    ligne = BY_CODE[code]
    if value is None:
        return "–"
    if ligne.groupe in ("charges", "produits"):
        return euros(value)
    return f"{value:.{ligne.decimals}f}".replace(".", ",")


def default_template() -> bytes:
    """The notification's template when the administration has uploaded none: a plain Word
    document written with python-docx, with the same fields an uploaded one may use."""
    doc = DocxDocument()
    doc.add_heading("Notification de la décision de tarification", level=1)
    doc.add_paragraph("Décision n° {{ numero }} du {{ date_decision }}")
    doc.add_paragraph("Structure {{ structure.code_dna }} – {{ structure.nom }} ({{ structure.type }}), "
                      "département {{ departement }}")
    doc.add_paragraph("Opérateur : {{ operateur }}")
    doc.add_paragraph("Exercice {{ annee }} – places : {{ places }}")
    doc.add_heading("Montants retenus", level=2)
    doc.add_paragraph("{%p for l in lignes %}")
    doc.add_paragraph("{{ l.label }} : demandé {{ l.demande }} ; retenu {{ l.retenu }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("Total des charges retenues : {{ total_charges }}")
    doc.add_paragraph("Dotation globale de financement accordée : {{ dotation }}")
    doc.add_paragraph("Coût journalier à la place : {{ cout_journalier }}")
    doc.add_paragraph("Validé par {{ agent }} le {{ date_decision }}.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


#: Per kind of template: the default one (when none was uploaded), a sample context an
#: uploaded one must render, the documents' category and file name ({n}: the number).
#: ``app.campagnes.dialogue_avenant`` adds the avenant's.
KINDS: dict[str, dict[str, Any]] = {}


def template_for(session: Session, nature: str = NOTIFICATION) -> bytes:
    found = session.scalar(select(ModeleDocument.contenu).where(ModeleDocument.nature == nature)
                           .order_by(ModeleDocument.uploaded_at.desc(), ModeleDocument.id.desc()).limit(1))
    return found or KINDS[nature]["default"]()


def context(dialogue: DialogueBudgetaire, places: Optional[int], cout: Optional[float]) -> dict[str, Any]:
    """What a template may show: the structure, the opérateur, the lines and the decision."""
    structure = dialogue.structure
    lignes = [{"code": ligne.code, "label": str(BY_CODE[ligne.code].label),
               "demande": amount(ligne.demande, ligne.code), "propose": amount(ligne.propose, ligne.code),
               "retenu": amount(ligne.retenu, ligne.code)} for ligne in dialogue.lignes]
    decided = dialogue.decide_le or dt.datetime.now()
    return {
        "numero": dialogue.numero, "annee": dialogue.annee, "places": places or "–",
        "structure": {"code_dna": structure.code_dna, "nom": structure.nom or "",
                      "type": structure.type.value},
        "departement": f"{structure.departement.code} {structure.departement.nom}",
        "operateur": structure.operateur.nom if structure.operateur else "–",
        "lignes": lignes, "total_charges": euros(totals(dialogue, "retenu").get("charges")),
        "dotation": euros(dialogue.dotation_accordee),
        "cout_journalier": "–" if cout is None else euros(Decimal(str(round(cout, 2)))),
        "agent": dialogue.decide_par or "", "date_decision": decided.strftime("%d/%m/%Y"),
    }


def render_docx(template: bytes, values: dict[str, Any]) -> bytes:
    """The template filled (Jinja escaping on); a broken template is a ``DialogueError``."""
    try:
        doc = DocxTemplate(io.BytesIO(template))
        doc.render(values, autoescape=True)
    except (TemplateError, KeyError, ValueError, OSError) as exc:
        raise DialogueError([_("Le modèle de document est invalide : %(e)s", e=str(exc)[:200])]) from None
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def soffice() -> Optional[str]:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx: bytes) -> bytes:
    """LibreOffice headless in its own profile (parallel conversions do not share one)."""
    program = soffice()
    if program is None:
        raise DialogueError([_("La conversion en PDF est indisponible (LibreOffice absent du serveur).")])
    with tempfile.TemporaryDirectory(prefix="bhasile-pdf-") as tmp:
        source = Path(tmp) / "decision.docx"
        source.write_bytes(docx)
        command = [program, f"-env:UserInstallation=file://{tmp}/profil", "--headless", "--norestore",
                   "--convert-to", "pdf", "--outdir", tmp, str(source)]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=PDF_TIMEOUT,
                           env={**os.environ, "HOME": tmp})
        except (subprocess.SubprocessError, OSError):
            raise DialogueError([_("La conversion en PDF a échoué : rien n'a été enregistré.")]) from None
        target = source.with_suffix(".pdf")
        if not target.exists():
            raise DialogueError([_("La conversion en PDF a échoué : rien n'a été enregistré.")])
        return target.read_bytes()


def store_decision(session: Session, storage: Storage, scope: Scope, dialogue: DialogueBudgetaire,
                   pdf: bytes, nature: str = NOTIFICATION, numero: Optional[str] = None,
                   categorie: Optional[CategorieDocument] = None) -> Document:
    """Add the PDF to the structure's documents (not committed): the deciding agent is its
    author; the file goes away again if the transaction fails (the caller's ``discard``).
    The notification is linked to the dialogue; another kind is returned to its caller."""
    kind = KINDS[nature]
    doc = Document(structure_id=dialogue.structure_id, categorie=categorie or kind["categorie"],
                   annee=dialogue.annee, nom_original=kind["nom"].format(n=numero or dialogue.numero),
                   taille=len(pdf), mime_type="application/pdf", uploaded_by=dialogue.decide_par,
                   uploaded_at=dialogue.decide_le)
    add_document(session, storage, doc, pdf, scope)
    if nature == NOTIFICATION:
        # a link the job adds, not a user's edit: the dialogue's version stays, so the forms
        # the opérateur and the agent opened meanwhile are not refused as stale
        from sqlalchemy import update
        from sqlalchemy.orm.attributes import set_committed_value

        session.execute(update(DialogueBudgetaire).where(DialogueBudgetaire.id == dialogue.id)
                        .values(document_id=doc.id))
        set_committed_value(dialogue, "document_id", doc.id)
    return doc


def check_template(data: bytes, nature: str = NOTIFICATION) -> None:
    """An uploaded template must be a DOCX docxtpl can fill with a sample of its kind."""
    try:
        kind = detect_type(data)
    except DocumentError as exc:
        raise DialogueError([str(exc)]) from None
    if kind.code != "DOCX":
        raise DialogueError([_("Le modèle doit être un document Word (.docx).")])
    if nature not in KINDS:
        raise DialogueError([_("Nature de modèle inconnue.")])
    render_docx(data, KINDS[nature]["sample"])


KINDS[NOTIFICATION] = {
    "default": default_template, "categorie": CategorieDocument.ARRETE_TARIFICATION,
    "nom": "Notification {n}.pdf",
    "sample": {"numero": "DBT-2000-000000", "annee": 2000, "places": 1,
               "structure": {"code_dna": "C0000", "nom": "", "type": "CADA"}, "departement": "",
               "operateur": "", "lignes": [], "total_charges": "", "dotation": "",
               "cout_journalier": "", "agent": "", "date_decision": ""},
}


def decide(session: Session, scope: Scope, dialogue: DialogueBudgetaire, choices: dict[str, Any],
           version: Any, username: str, today: Optional[dt.date] = None) -> DialogueBudgetaire:
    """The agent's decision in one transaction: retained amounts and the year's dotation
    accordée (with its history). Any refusal, or a template that does not fill, writes nothing.

    The notification's PDF is not made here: LibreOffice takes seconds to minutes, so the
    caller hands ``generate`` to the queue (job ``notification``) once this is committed; the
    dialogue page shows it being generated, then the link."""
    picks = prepare_decision(session, scope, dialogue, choices, version, username, today)
    try:
        apply_decision(session, scope, dialogue, picks, username)
        render_docx(template_for(session), values_of(session, dialogue))  # a broken template refuses now
        session.commit()
    except Exception:
        session.rollback()
        raise
    return dialogue


def values_of(session: Session, dialogue: DialogueBudgetaire) -> dict[str, Any]:
    places = places_of(session, dialogue)
    return context(dialogue, places, cout_journalier(dialogue.dotation_accordee, places, dialogue.annee))


# --- the notification, generated in the background ---------------------------------------------
#
# Where a failed generation says why: a small text in the file store (shared by every host, like
# the exports), read by the dialogue page until a generation succeeds. No table is needed: the
# dialogue's ``document_id`` says whether the notification exists.

def _error_name(dialogue_id: int) -> str:
    return f"generes/notifications/dialogue-{int(dialogue_id)}.erreur"


def generation_error(dialogue_id: int) -> Optional[str]:
    """The French reason the last generation of this dialogue's notification failed, if any."""
    store = file_store()
    name = _error_name(dialogue_id)
    try:
        return store.read(name).decode("utf-8") if store.exists(name) else None
    except OSError:
        return None


def clear_generation_error(dialogue_id: int) -> None:
    store, name = file_store(), _error_name(dialogue_id)
    if store.exists(name):
        store.delete(name)


def _failed(dialogue_id: int, messages: list[str]) -> None:
    file_store().put(_error_name(dialogue_id), " ".join(str(m) for m in messages).encode("utf-8"))


def notification_state(dialogue: DialogueBudgetaire) -> Optional[dict[str, Any]]:
    """What the dialogue page says of the notification: ``None`` before the decision, else
    its status (``pret`` / ``en_cours`` / ``echec``) and the error."""
    if dialogue.decide_le is None:
        return None
    if dialogue.document_id is not None:
        return {"statut": "pret", "document_id": dialogue.document_id, "erreur": None}
    error = generation_error(dialogue.id)
    return {"statut": "echec" if error else "en_cours", "document_id": None, "erreur": error}


def generate(session: Session, storage: Storage, dialogue_id: int, user_id: Optional[int]) -> Optional[int]:
    """The job ``notification``: render the decided dialogue's notification to PDF and store it
    as one of the structure's documents; returns its id.

    Only ids come in: the owner is the account ``user_id`` and its scope is read from the account
    now (``scope_of``), so the dialogue must be inside it and the write gate of that scope
    accepts the document, else nothing is stored. Run again (a retry after a worker died, a
    second click), it stores no second document: the dialogue row is locked and re-read before
    the document is added, and a dialogue that already has its notification is left alone."""
    user = session.get(BhasileUser, user_id) if user_id is not None else None
    if user is None:
        return None
    scope = scope_of(user)
    dialogue = None if scope.is_operateur else find_inside(session, DialogueBudgetaire, dialogue_id, scope)
    if dialogue is None:  # not an agent, or outside the owner's scope (now): nothing stored or said
        import logging

        logging.getLogger(__name__).warning("Notification du dialogue %s refusée à l'utilisateur %s "
                                            "(hors de son périmètre).", dialogue_id, user_id)
        return None
    if dialogue.document_id is not None or dialogue.decide_le is None:
        return dialogue.document_id
    try:
        docx = render_docx(template_for(session), values_of(session, dialogue))
        session.rollback()  # no transaction held open while LibreOffice works
        pdf = to_pdf(docx)
    except DialogueError as exc:
        session.rollback()
        _failed(dialogue_id, exc.messages)
        return None
    except Exception:
        session.rollback()
        _failed(dialogue_id, [_("La conversion en PDF a échoué : rien n'a été enregistré.")])
        raise
    key = None
    with audit_context("job", username=user.username, user_id=user.id):
        try:
            locked = session.scalars(select(DialogueBudgetaire).where(DialogueBudgetaire.id == dialogue_id)
                                     .with_for_update().execution_options(populate_existing=True)).one()
            if locked.document_id is not None:  # another run stored it meanwhile
                session.rollback()
                return locked.document_id
            doc = store_decision(session, storage, scope, locked, pdf)
            key = doc.stockage
            session.commit()
        except WriteRefused as exc:
            session.rollback()
            if key is not None:
                storage.delete(key)
            _failed(dialogue_id, [_("La notification n'a pas été enregistrée : %(r)s",
                                    r=" ".join(e.message for e in exc.errors))])
            return None
        except Exception:
            session.rollback()
            if key is not None:
                storage.delete(key)
            _failed(dialogue_id, [_("La génération de la notification a échoué : rien n'a été enregistré.")])
            raise
    clear_generation_error(dialogue_id)
    return doc.id


@task("notification")
def _notification(dialogue_id: int, user_id: Optional[int]) -> Optional[int]:
    """The notification of a budget dialogue's decision (DOCX → PDF by LibreOffice), stored once."""
    return generate(db.session, get_storage(), int(dialogue_id), user_id)
