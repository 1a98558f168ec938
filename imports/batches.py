"""Import batches: keep the original file, the preview's outcome, and apply it later.

The web flow previews on upload: the file is stored with the batch, the preview's detail goes
to ``import_change`` (``imports.changes``) and the batch keeps only its counts. The agent pages
through the detail, chooses a side per conflict, downloads the annotated file, then applies:
the records the preview stored are written, without reading the file again; their stored
versions are checked, so rows changed meanwhile are named and nothing is written.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Optional

from app.extensions import db
from app.scope import Scope
from models.base import utcnow
from models.imports import ImportBatch

from app.gate import Gate
from app.sheets import Lookups
from app.sheets.normalize import norm
from app.documents.storage import file_store
from models import Operateur, Structure

from . import changes
from .apply import _describe, _values, StaleRows
from .checks import Checker
from .pipeline import ImportCommand, write
from .result import ImportResult
from .merge import resolve, SIDES


def store_original(data: bytes, filename: str) -> str:
    """Keep an uploaded file in the file store (``app.documents.storage``); returns its stored name,
    random (``imports/<hex>.<ext>``): the name the user gave stays in the batch row only."""
    suffix = "".join(c for c in Path(filename).suffix.lower() if c.isalnum())[:10]
    name = f"imports/{uuid.uuid4().hex}" + (f".{suffix}" if suffix else "")
    file_store().put(name, data)  # a full disk or a lost bucket: nothing partial, French error
    return name


def _is_local(stored: str) -> bool:
    return Path(stored).is_absolute()


def original_size(batch: ImportBatch) -> int:
    """The size of the batch's file, as its preview recorded it (else asked of the store)."""
    size = load_summary(batch).get("bytes")
    if size is not None:
        return size
    if _is_local(batch.stored_path):
        return Path(batch.stored_path).stat().st_size
    return file_store().size(batch.stored_path)


def record_preview(batch_id: int, result: ImportResult, scope: Scope, size: int,
                   conn: Any = None) -> str:
    """Write the preview's detail of the batch; returns its counts (JSON, small)."""
    data = changes.store(conn if conn is not None else db.session.connection(), batch_id, result)
    data["scope"], data["bytes"] = scope_key(scope), size
    return json.dumps(data, ensure_ascii=False, default=str)


def scope_key(scope: Scope) -> list:
    """What a preview was checked for: the apply of another territory is refused."""
    return [scope.national, sorted(scope.region_ids), sorted(scope.departement_ids),
            scope.operateur_id, sorted(scope.roles)]


def create_batch(data: bytes, filename: str, scope: Scope, user: Any = None,
                 year: Optional[int] = None, origin: str = "web") -> tuple[ImportBatch, ImportResult]:
    """Store the file, preview it and record the batch with its detail (nothing of the domain
    is written)."""
    safe = Path(filename).name[:200] or "fichier"
    stored = store_original(data, safe)
    result = ImportCommand(data, safe, scope, year).validate()
    db.session.rollback()
    batch = ImportBatch(filename=safe, stored_path=str(stored), year=year, origin=origin,
                        username=getattr(user, "username", None), user_id=getattr(user, "id", None),
                        status="inutilisable" if result.problem else ("refuse" if result.errors else "apercu"))
    db.session.add(batch)
    db.session.flush()
    batch.counts = record_preview(batch.id, result, scope, len(data))
    db.session.commit()
    return batch, result


def load_summary(batch: ImportBatch) -> dict:
    return json.loads(batch.counts or "{}")


def original(batch: ImportBatch) -> bytes:
    """The uploaded file of ``batch``, from the file store (any host reads it)."""
    if _is_local(batch.stored_path):
        return Path(batch.stored_path).read_bytes()
    return file_store().read(batch.stored_path)


def apply_batch(batch: ImportBatch, scope: Scope, username: Optional[str],
                origin: str = "import", progress: Any = None,
                user_id: Optional[int] = None) -> ImportResult:
    """Apply a previewed batch, all or nothing, from the records its preview stored (the file
    is not read again); raises ``StaleRows`` if rows changed since."""
    summary = load_summary(batch)
    batch_id = batch.id
    result = ImportResult()   # the preview's counts and warnings, told again by the command line
    for name, counts in summary.get("sheets", {}).items():
        result.counts[name].update(counts)
    result.warnings = list(summary.get("warnings", []))
    if summary.get("problem"):
        result.problem = summary["problem"]
        return result
    if summary.get("kinds", {}).get("error"):
        result.errors = changes.errors(db.session, batch_id)
        return result
    if not scope.national and summary.get("scope") != scope_key(scope):
        result.problem = ("Votre périmètre a changé depuis l'aperçu : importez le fichier de "
                          "nouveau.")
        return result
    result.conflicts = changes.stored_conflicts(db.session, batch_id)
    if result.open_conflicts:
        return result
    lookups = Lookups(db.session)
    result.records = changes.records(db.session, batch_id)
    resolve(result, Checker(db.session, scope, lookups))
    if result.errors:   # a side kept for BHasile breaks a rule of the row: told in the detail
        db.session.rollback()
        _add_errors(batch, result.errors)
        return result
    try:
        gone = moved_since(db.session, scope, lookups, result.records)
        if gone:
            db.session.rollback()
            raise StaleRows(gone)
        write(db.session, lookups, result.records, progress, origin=origin, batch_id=batch_id,
              username=username, user_id=user_id)
    except StaleRows:
        _set_status(batch_id, "perime")
        raise
    result.applied = True
    _set_status(batch_id, "applique", result)
    return result


def moved_since(session: Any, scope: Scope, lookups: Lookups, records: list) -> list[str]:
    """The records (named) whose structures or opérateurs are gone since the preview, or
    have left the importer's territory: their own rows' versions did not change, what they
    point at did. The preview asked the gate; this asks it again for these only."""

    created_codes = {r.key[0] for r in records if r.sheet.model is Structure and r.status == "new"}
    created_ops = {norm(r.values.get("nom") or r.key[0]) for r in records
                   if r.sheet.model is Operateur and r.status == "new"}
    wanted: list[tuple[Any, type, Any, str]] = []       # (record, model, id or None, kind)
    for rec in records:
        values = _values(rec)
        own = rec.values.get("code_dna") if rec.sheet.model is not Operateur else None
        for code in [own, *(values.get("codes_dna") or ())]:
            if code and code not in created_codes:
                found = lookups.structures.get(code)
                wanted.append((rec, Structure, found[0] if found else None, "read"))
        name = values.get("operateur")
        if name and norm(name) not in created_ops:
            found = lookups.operateurs.get(norm(name))
            wanted.append((rec, Operateur, found[0] if found else None, "choose"))
    gate = Gate(scope, session)
    for model, kind in ((Structure, "read"), (Operateur, "choose")):
        gate.preload(model, {i for _r, m, i, _k in wanted if m is model and i is not None}, kind)
    named: dict[int, str] = {}
    for rec, model, ident, kind in wanted:
        if id(rec) not in named and (ident is None or not gate.inside(model, ident, kind)):
            named[id(rec)] = _describe(rec)
    return list(named.values())


def save_choices(batch: ImportBatch, choices: dict[str, str]) -> int:
    """Store the sides chosen for the batch's conflicts (``imports.merge``): the apply applies
    them. Returns the conflicts still without a choice."""
    changes.choose(db.session, batch.id, {k: v for k, v in choices.items() if v in SIDES})
    db.session.commit()
    return changes.unchosen(db.session, batch.id)


def _add_errors(batch: ImportBatch, errors: list) -> None:
    summary = load_summary(batch)
    summary.setdefault("kinds", {})["error"] = changes.add_errors(db.session.connection(), batch.id,
                                                                  errors)
    batch.counts = json.dumps(summary, ensure_ascii=False, default=str)
    db.session.commit()


def _set_status(batch_id: int, status: str, result: Optional[ImportResult] = None) -> None:
    batch = db.session.get(ImportBatch, batch_id)
    batch.status = status
    if result is not None:
        batch.applied_at = utcnow()
    db.session.commit()
