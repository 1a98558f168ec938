"""Import batches: keep the original file, the preview's outcome, and apply it later.

The web flow previews on upload (the file and the preview are stored with the batch), lets
the agent page through the diff and download the annotated file, then applies: the file is
read again and the plan compared with the stored preview, so rows changed meanwhile are named
and nothing is written.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Optional

from flask import current_app

from app.extensions import db
from app.scope import Scope
from models.base import utcnow
from models.imports import ImportBatch

from .apply import StaleRows
from .pipeline import ImportCommand, signature
from .result import ImportResult


def storage_dir() -> Path:
    """The local folder of import originals of older versions (new ones: ``store_original``)."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / "imports"


def store_original(data: bytes, filename: str) -> str:
    """Keep an uploaded file in the file store (``app.storage``); returns its stored name,
    random (``imports/<hex>.<ext>``): the name the user gave stays in the batch row only."""
    from app.storage import file_store

    suffix = "".join(c for c in Path(filename).suffix.lower() if c.isalnum())[:10]
    name = f"imports/{uuid.uuid4().hex}" + (f".{suffix}" if suffix else "")
    file_store().put(name, data)  # a full disk or a lost bucket: nothing partial, French error
    return name


def _is_local(stored: str) -> bool:
    return Path(stored).is_absolute()


def original_size(batch: ImportBatch) -> int:
    from app.storage import file_store

    if _is_local(batch.stored_path):
        return Path(batch.stored_path).stat().st_size
    return file_store().size(batch.stored_path)


def _summary(result: ImportResult, plan: Optional[dict] = None) -> str:
    data = result.as_dict()
    data["signature"] = plan if plan is not None else signature(result)
    return json.dumps(data, ensure_ascii=False, default=str)


def create_batch(data: bytes, filename: str, scope: Scope, user: Any = None,
                 year: Optional[int] = None, origin: str = "web") -> tuple[ImportBatch, ImportResult]:
    """Store the file, preview it and record the batch (nothing of the domain is written)."""
    safe = Path(filename).name[:200] or "fichier"
    stored = store_original(data, safe)
    result = ImportCommand(data, safe, scope, year).validate()
    db.session.rollback()
    batch = ImportBatch(filename=safe, stored_path=str(stored), year=year, origin=origin,
                        username=getattr(user, "username", None), user_id=getattr(user, "id", None),
                        status="unusable" if result.problem else ("refused" if result.errors else "preview"),
                        counts=_summary(result))
    db.session.add(batch)
    db.session.commit()
    return batch, result


def load_summary(batch: ImportBatch) -> dict:
    return json.loads(batch.counts or "{}")


def original(batch: ImportBatch) -> bytes:
    """The uploaded file of ``batch``, from the file store (any host reads it)."""
    from app.storage import file_store

    if _is_local(batch.stored_path):
        return Path(batch.stored_path).read_bytes()
    return file_store().read(batch.stored_path)


def apply_batch(batch: ImportBatch, scope: Scope, username: Optional[str],
                origin: str = "import", progress: Any = None,
                user_id: Optional[int] = None) -> ImportResult:
    """Apply a previewed batch, all or nothing; raises ``StaleRows`` if rows changed since."""
    summary = load_summary(batch)
    expected = summary.get("signature", {})
    batch_id = batch.id
    command = ImportCommand(original(batch), batch.filename, scope, batch.year, progress=progress,
                            choices=summary.get("choices"))
    try:
        result = command.run(batch_id=batch_id, username=username, origin=origin, expected=expected,
                             user_id=user_id)
    except StaleRows:
        _set_status(batch_id, "stale")
        raise
    if result.applied:
        _set_status(batch_id, "applied", result)
    return result


def save_choices(batch: ImportBatch, choices: dict[str, str]) -> int:
    """Store the sides chosen for the batch's conflicts (``imports.merge``), in its summary
    beside the preview's signature, whose conflict entries then carry them: the apply checks
    that it applies these choices to the conflicts the agent saw. Returns the conflicts still
    without a choice."""
    from .merge import SIDES, SIGNED

    summary = load_summary(batch)
    known = {c["id"] for c in summary.get("conflicts", [])}
    chosen = {k: v for k, v in (summary.get("choices") or {}).items() if k in known}
    chosen.update({k: v for k, v in choices.items() if k in known and v in SIDES})
    summary["choices"] = chosen
    for conflict in summary.get("conflicts", []):
        conflict["choice"] = chosen.get(conflict["id"])
        signed = summary.get("signature", {}).get(SIGNED + conflict["id"])
        if signed is not None:
            signed[2] = conflict["choice"]
    batch.counts = json.dumps(summary, ensure_ascii=False, default=str)
    db.session.commit()
    return len(known - set(chosen))


def _set_status(batch_id: int, status: str, result: Optional[ImportResult] = None) -> None:
    batch = db.session.get(ImportBatch, batch_id)
    batch.status = status
    if result is not None:
        batch.applied_at = utcnow()
        batch.counts = _summary(result, load_summary(batch).get("signature"))
    db.session.commit()
