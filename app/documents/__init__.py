"""Documents: what a file is (by its content), its safe name, its storage with history, and the
checklist of the documents each structure owes per year.

Office files are only inspected as zip or OLE2 containers (their list of parts, and the sheet
list of an .xls), never opened by an office library, rendered or executed: the server stores
bytes and serves them back as attachments. A document carrying macros is refused.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import quote

import olefile
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import current_actor
from app.gate import Gate, WriteRefused
from app.rules import RuleError
from app.scope import Scope, current_scope, structure_condition
from app.documents.storage import Storage
from models import Changement, Convention, ConventionStructure, Document, Operateur, Structure
from models.enums import CategorieDocument, StatutConvention, TypeConvention

log = logging.getLogger(__name__)


class DocumentError(ValueError):
    """A file or a form the user must fix; the message is French and shown as is."""


@dataclass(frozen=True)
class FileKind:
    """An accepted file type: its code, MIME type and usual extensions."""

    code: str
    mime: str
    extensions: tuple[str, ...]


KINDS = {k.code: k for k in (
    FileKind("PDF", "application/pdf", ("pdf",)),
    FileKind("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",)),
    FileKind("XLS", "application/vnd.ms-excel", ("xls",)),
    FileKind("ODS", "application/vnd.oasis.opendocument.spreadsheet", ("ods",)),
    FileKind("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             ("docx",)),
    FileKind("ODT", "application/vnd.oasis.opendocument.text", ("odt",)),
    FileKind("CSV", "text/csv", ("csv", "txt")),
    FileKind("PNG", "image/png", ("png",)),
    FileKind("JPEG", "image/jpeg", ("jpg", "jpeg")),
)}
_EXECUTABLES = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\x00asm")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OPENDOCUMENT = {"application/vnd.oasis.opendocument.spreadsheet": "ODS",
                 "application/vnd.oasis.opendocument.text": "ODT"}
_OOXML = {b"spreadsheetml.sheet.main+xml": "XLSX", b"wordprocessingml.document.main+xml": "DOCX"}
#: Folders of a zip document that hold macros: Excel 4.0 macro sheets (OOXML), Basic and
#: scripts (OpenDocument); VBA of an OOXML document is its ``vbaProject.bin`` part.
_ZIP_MACRO_FOLDERS = ("xl/macrosheets/", "basic/", "scripts/")
#: OLE2 storages and streams of a VBA project (Excel, Word, PowerPoint 97-2003).
_OLE2_MACROS = {"_vba_project_cur", "_vba_project", "vba", "macros"}
_BIFF_EOF, _BIFF_FILEPASS, _BIFF_BOUNDSHEET = 0x000A, 0x002F, 0x0085
_BIFF_MACRO_SHEETS = {0x01, 0x06}  # BoundSheet dt: Excel 4.0 macro sheet, VBA module


def _refused(reason: str) -> DocumentError:
    return DocumentError(_("Fichier refusé : %(reason)s Types acceptés : PDF, XLSX, XLS, ODS, DOCX, ODT, "
                           "CSV, PNG, JPEG (reconnus à leur contenu, pas à leur extension).", reason=reason))


def _macros() -> DocumentError:
    return _refused(_("les fichiers Office contenant des macros ne sont pas acceptés."))


def _zip_kind(data: bytes) -> FileKind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = {info.filename: info for info in archive.infolist()}
            if any(n.lower().endswith("vbaproject.bin") or n.lower().startswith(_ZIP_MACRO_FOLDERS)
                   for n in names):
                raise _macros()
            info = names.get("mimetype")
            if info is not None and info.file_size <= 200:
                kind = _OPENDOCUMENT.get(archive.read(info).decode("ascii", "replace").strip())
                if kind:
                    return KINDS[kind]
            info = names.get("[Content_Types].xml")
            if info is not None and info.file_size <= 2_000_000:
                types = archive.read(info)
                for marker, kind in _OOXML.items():
                    if b"officedocument." + marker in types:
                        return KINDS[kind]
    except DocumentError:
        raise
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, ValueError, EOFError):
        raise _refused(_("archive illisible ou chiffrée.")) from None
    raise _refused(_("archive ou document non reconnu."))


def _biff_globals(stream: bytes) -> tuple[bool, bool]:
    """(macro sheet, encrypted) from the records of a workbook stream that come before its
    first EOF record: the sheet list (BoundSheet: byte 5 is the sheet type) and FilePass."""
    pos = 0
    while pos + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, pos)
        if kind in (_BIFF_EOF, _BIFF_FILEPASS):
            return False, kind == _BIFF_FILEPASS
        if kind == _BIFF_BOUNDSHEET and size >= 6 and stream[pos + 9] in _BIFF_MACRO_SHEETS:
            return True, False
        pos += 4 + size
    return False, False


def _ole2_kind(data: bytes) -> FileKind:
    """A 97-2003 (OLE2) file: only an Excel workbook without macros is accepted."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            paths = ole.listdir(streams=True, storages=True)
            book = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
            macro_sheet, encrypted = _biff_globals(ole.openstream(book).read()) if book else (False, False)
    except Exception:  # a crafted directory raises more than olefile's own OSError
        raise _refused(_("document Office 97-2003 illisible.")) from None
    if macro_sheet or any(part.lower() in _OLE2_MACROS for path in paths for part in path):
        raise _macros()
    if any(path[0] in ("WordDocument", "PowerPoint Document") for path in paths):
        raise _refused(_("les documents Word ou PowerPoint 97-2003 ne sont pas acceptés."))
    if book is None:
        raise _refused(_("document Office 97-2003 autre qu'un classeur Excel."))
    if encrypted:
        raise _refused(_("classeur protégé par un mot de passe."))
    return KINDS["XLS"]


def _text_kind(data: bytes) -> Optional[FileKind]:
    """CSV has no signature: accept plain text with a separator, refuse markup and scripts."""
    head = data[:65536]
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = head.decode("utf-8-sig", "ignore") if exc.start > len(head) - 4 else head.decode(
            "cp1252", "replace")
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        return None
    stripped = text.lstrip()
    if not stripped or stripped.startswith(("<", "{", "%!", "@echo", "#!")):
        return None
    first_line = stripped.splitlines()[0]
    return KINDS["CSV"] if any(sep in first_line for sep in ";,\t") else None


def detect_type(data: bytes) -> FileKind:
    """The type of a file from its first bytes; raises ``DocumentError`` when it is not accepted."""
    if not data:
        raise DocumentError(_("Le fichier est vide."))
    if data.startswith(_EXECUTABLES):
        raise _refused(_("c'est un programme exécutable."))
    if data.startswith(b"%PDF-"):
        return KINDS["PDF"]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["PNG"]
    if data.startswith(b"\xff\xd8\xff"):
        return KINDS["JPEG"]
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if data.startswith(_OLE2):
        return _ole2_kind(data)
    kind = _text_kind(data)
    if kind is None:
        raise _refused(_("type de fichier non reconnu."))
    return kind


def safe_name(name: Optional[str], kind: FileKind) -> str:
    """The original name as shown and downloaded: no path, no control character, right extension."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if ext.lower() not in kind.extensions:
        stem, ext = name, kind.extensions[0]  # a CSV named .html is served as .html.csv
    stem = stem[:200].rstrip(" .") or "document"
    return f"{stem}.{ext}"


def content_disposition(name: str) -> str:
    """``attachment`` header with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9._() -]", "_", fallback).strip() or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def max_bytes() -> int:
    """The size limit of one document (``BHASILE_DOCUMENT_MAX_MB``, default 20 Mo)."""
    value = (current_app.config.get("BHASILE_DOCUMENT_MAX_MB") if has_app_context() else None) or 20
    return int(float(value) * 1024 * 1024)


def too_big_message() -> str:
    limit = max_bytes() / (1024 * 1024)
    return _("Le fichier dépasse la taille maximale autorisée (%(n)s Mo).", n=f"{limit:g}")


def period_label(doc: Document) -> str:
    if doc.annee:
        return str(doc.annee)
    if doc.periode_debut or doc.periode_fin:
        start = doc.periode_debut.strftime("%d/%m/%Y") if doc.periode_debut else "…"
        end = doc.periode_fin.strftime("%d/%m/%Y") if doc.periode_fin else "…"
        return f"{start} – {end}"
    return ""


def record(session: Session, doc: Document, action: str) -> None:
    """Write an upload, download or delete of ``doc`` to the change history."""
    actor = current_actor()
    summary = " ".join(p for p in (doc.categorie.value, period_label(doc)) if p)
    session.add(Changement(
        action=action, entity="document", entity_id=doc.id, key=doc.nom_original[:200],
        field="fichier", old_value=summary if action == "delete" else None,
        new_value=summary if action == "upload" else None, username=actor.get("username"),
        user_id=actor.get("user_id"), origin=actor["origin"], batch_id=actor.get("batch_id"),
        structure_id=doc.structure_id))


#: A document's owner and the right adding or removing one needs: a convention's or an
#: opérateur's documents belong to that convention or opérateur (an opérateur files documents
#: on its own structures only).
OWNER_RIGHTS: dict[str, tuple[type, str]] = {"structure_id": (Structure, "document"),
                                              "convention_id": (Convention, "convention"),
                                              "operateur_id": (Operateur, "operateur")}


def write_refusals(gate: Gate, doc: Document, stored: bool = False) -> list[RuleError]:
    """Why ``gate``'s user may not add ``doc`` (``stored``: remove it); empty when they may.
    Adding a document changes its owner: an owner outside the territory is not found (404)."""
    attr = next((a for a in OWNER_RIGHTS if getattr(doc, a) is not None), "structure_id")
    owner, area = OWNER_RIGHTS[attr]
    if stored:
        return gate.check(Document, doc, area=area, rules=False)
    values = {a: getattr(doc, a) for a in (*OWNER_RIGHTS, "parent_id", "periode_debut", "periode_fin")}
    return gate.check(owner, {"id": getattr(doc, attr)}, area=area, rules=False) or gate.check(
        Document, None, values, area=area)


def add_document(session: Session, storage: Storage, doc: Document, data: bytes,
                 scope: Scope) -> Document:
    """Store the file, then add the row and its history to the caller's transaction (not
    committed), once the gate let ``scope`` add it (else ``WriteRefused``, nothing stored).
    If the row cannot be added, the file goes away again."""
    refused = write_refusals(Gate(scope, session), doc)
    if refused:
        raise WriteRefused(refused)
    doc.stockage = storage.save(data)
    try:
        session.add(doc)
        session.flush()
        record(session, doc, "upload")
    except BaseException:  # the file must not outlive a row that was never written
        storage.delete(doc.stockage)
        raise
    return doc


def save_document(session: Session, storage: Storage, doc: Document, data: bytes,
                  scope: Scope) -> Document:
    """Store the file, then the row and its history in one transaction (``add_document``).

    A failed commit removes the file again: the table never points to a missing file, and the
    storage keeps no file of a document that does not exist.
    """
    add_document(session, storage, doc, data, scope)
    try:
        session.commit()
    except Exception:
        session.rollback()
        storage.delete(doc.stockage)
        raise
    return doc


def delete_document(session: Session, storage: Storage, doc: Document, scope: Scope) -> None:
    """Remove the row (with its history line), then the file, once the gate let ``scope``
    remove it (else ``WriteRefused``)."""
    refused = write_refusals(Gate(scope, session), doc, stored=True)
    if refused:
        raise WriteRefused(refused)
    if doc.avenants:
        raise DocumentError(_("Ce document a des avenants : supprimez-les d'abord."))
    key = doc.stockage
    record(session, doc, "delete")
    session.delete(doc)
    session.commit()
    try:
        storage.delete(key)
    except Exception:  # the row is gone; `flask bhasile check-files` reports the orphan
        log.exception("document file %s not deleted", key)


# --- Checklist: the documents a structure owes for a year -------------------------------------

@dataclass(frozen=True)
class Required:
    """A document owed for campaign year N: its category and the year it is about
    (N − ``offset``; ``None`` when any date will do, as for the arrêté d'autorisation)."""

    categorie: CategorieDocument
    offset: Optional[int]


_C = CategorieDocument
#: Autorisées (CADA, CPH): arrêtés, budget of year N, accounts of N−1 (soumis, with the
#: activity report that goes with them) and N−2 (retenu by the tarification authority).
AUTORISEE = (Required(_C.ARRETE_AUTORISATION, None), Required(_C.ARRETE_TARIFICATION, 0),
             Required(_C.BUDGET_PREVISIONNEL_DEMANDE, 0), Required(_C.BUDGET_PREVISIONNEL_RETENU, 0),
             Required(_C.COMPTE_ADMINISTRATIF_SOUMIS, 1), Required(_C.RAPPORT_ACTIVITE, 1),
             Required(_C.COMPTE_ADMINISTRATIF_RETENU, 2))
#: Subventionnées (HUDA, CAES): convention, request of year N, report and accounts of N−1.
SUBVENTIONNEE = (Required(_C.CONVENTION, 0), Required(_C.DEMANDE_SUBVENTION, 0),
                 Required(_C.COMPTE_RENDU_FINANCIER, 1), Required(_C.RAPPORT_ACTIVITE_OPERATEUR, 1))
#: A structure in a CPOM that year owes the CPOM (which stands in for its convention).
IN_CPOM = Required(_C.CPOM, 0)
_OWED = sorted({r.categorie for r in AUTORISEE + SUBVENTIONNEE + (IN_CPOM,)})
_IN_FORCE = {StatutConvention.SIGNEE, StatutConvention.ECHUE, StatutConvention.RESILIEE}


@dataclass
class ChecklistItem:
    """One required document of one structure: the year it is about and what satisfies it."""

    structure_id: int
    code_dna: str
    categorie: CategorieDocument
    annee: Optional[int]
    documents: list[int]

    @property
    def missing(self) -> bool:
        return not self.documents

    @property
    def label(self) -> str:
        return str(self.categorie.label)


def _span(start: Optional[int], end: Optional[int], year: int) -> bool:
    return (start is None or start <= year) and (end is None or year <= end)


def _link_covers(link, year: int) -> bool:
    start = link.annee_entree or (link.date_debut.year if link.date_debut else None)
    end = link.annee_sortie or (link.date_fin.year if link.date_fin else None)
    return _span(start, end, year)


def _satisfies(doc, year: Optional[int], links: dict) -> bool:
    if year is None:
        return True
    if doc.annee:
        return doc.annee == year
    if doc.periode_debut or doc.periode_fin:
        return _span(doc.periode_debut.year if doc.periode_debut else None,
                     doc.periode_fin.year if doc.periode_fin else None, year)
    link = links.get(doc.convention_id)  # an undated document of a convention: the convention's years
    return link is not None and _link_covers(link, year)


def _rules(structure, links: dict, year: int) -> tuple[Required, ...]:
    rules = AUTORISEE if structure.type.autorisee else SUBVENTIONNEE if structure.type.subventionnee else ()
    in_cpom = any(link.type == TypeConvention.CPOM and link.statut in _IN_FORCE
                  and _link_covers(link, year) for link in links.values())
    if in_cpom:
        rules = tuple(r for r in rules if r.categorie != _C.CONVENTION) + (IN_CPOM,)
    return rules


def _load(session: Session, structure_ids: Optional[Iterable[int]]):
    ids = (select(Structure.id).where(structure_condition(current_scope())) if structure_ids is None
           else sorted(set(structure_ids)))
    structures = session.execute(
        select(Structure.id, Structure.code_dna, Structure.type, Structure.operateur_id,
               Structure.date_creation).where(Structure.id.in_(ids)).order_by(Structure.code_dna)).all()
    links = session.execute(
        select(ConventionStructure.structure_id, ConventionStructure.annee_entree,
               ConventionStructure.annee_sortie, Convention.id, Convention.type, Convention.statut,
               Convention.date_debut, Convention.date_fin)
        .join(Convention, Convention.id == ConventionStructure.convention_id)
        .where(ConventionStructure.structure_id.in_(ids))).all()
    convention_ids = {link.id for link in links}
    operateur_ids = {s.operateur_id for s in structures if s.operateur_id}
    columns = (Document.id, Document.structure_id, Document.convention_id, Document.operateur_id,
               Document.categorie, Document.annee, Document.periode_debut, Document.periode_fin)
    docs = []  # one indexed query per kind of owner (an OR of the three scans the whole table)
    for condition in (Document.structure_id.in_(ids), Document.convention_id.in_(sorted(convention_ids)),
                      Document.operateur_id.in_(sorted(operateur_ids))):
        docs.extend(session.execute(select(*columns).where(condition, Document.categorie.in_(_OWED))).all())
    return structures, links, docs


def evaluate(session: Session, structure_ids: Optional[Iterable[int]] = None,
             year: Optional[int] = None) -> list[ChecklistItem]:
    """Every required document of these structures (default: the user's territory) for a year."""
    return evaluate_years(session, structure_ids, [year or dt.date.today().year])[0]


def evaluate_years(session: Session, structure_ids: Optional[Iterable[int]],
                   years: list[int]) -> list[list[ChecklistItem]]:
    """``evaluate`` for several campaign years, the structures and documents read once."""
    structures, link_rows, docs = _load(session, structure_ids)
    links: dict[int, dict] = {}
    for link in link_rows:
        links.setdefault(link.structure_id, {})[link.id] = link
    # by (owner, id, category): a structure looks only at the documents that may satisfy a
    # rule, not at every document of its opérateur for every rule
    by_owner: dict[tuple[str, int, CategorieDocument], list] = {}
    for doc in docs:
        for owner in ("structure", "convention", "operateur"):
            if getattr(doc, f"{owner}_id") is not None:
                by_owner.setdefault((owner, getattr(doc, f"{owner}_id"), doc.categorie), []).append(doc)
    return [_checklist(structures, links, by_owner, year) for year in years]


def _checklist(structures, links: dict, by_owner: dict, year: int) -> list[ChecklistItem]:
    items = []
    for s in structures:
        own = links.get(s.id, {})
        created = s.date_creation.year if s.date_creation else None
        for rule in _rules(s, own, year):
            about = None if rule.offset is None else year - rule.offset
            if about is not None and created and about < created:
                continue  # no accounts for a year before the structure existed
            cat = rule.categorie
            candidates = (by_owner.get(("structure", s.id, cat), [])
                          + by_owner.get(("operateur", s.operateur_id, cat), [])
                          + [d for cid in own for d in by_owner.get(("convention", cid, cat), [])])
            found = sorted({d.id for d in candidates if _satisfies(d, about, own)})
            items.append(ChecklistItem(s.id, s.code_dna, rule.categorie, about, found))
    return items


def missing_documents(session: Session, structure_ids: Optional[Iterable[int]] = None,
                      year: Optional[int] = None) -> list[ChecklistItem]:
    """The required documents not yet stored, per structure (default: the user's territory),
    for campaign ``year`` (default: this year); for the "À traiter" page and the checklist."""
    return [item for item in evaluate(session, structure_ids, year) if item.missing]
