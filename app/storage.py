"""Where document files live: one small interface, a local directory or an S3-compatible bucket.

Files are stored under random names (``Document.stockage``); the database keeps the original
name. The local directory (``BHASILE_DOCUMENTS_DIR``, default ``<instance>/documents``) is the
default; a bucket is chosen by setting ``BHASILE_S3_BUCKET`` in the environment (boto3 must then
be installed; it is imported only in that case). ``flask bhasile check-files`` compares the
files with the ``document`` table.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator, Protocol

import click
from flask import current_app
from sqlalchemy import select

from app.cli import bhasile

#: Stored names are 32 hexadecimal characters: nothing a user typed ever reaches a path.
KEY_RE = re.compile(r"^[0-9a-f]{32}$")
#: Disk space a file must leave free (the database, logs and temporary files need some).
HEADROOM = 16 * 1024 * 1024


class StorageError(RuntimeError):
    """The storage could not read or write a file; the message is French."""


def new_key() -> str:
    return secrets.token_hex(16)


def _checked(key: str) -> str:
    if not KEY_RE.match(key or ""):
        raise StorageError(f"Nom de fichier stocké invalide : {key!r}.")
    return key


def check_room(directory: str | Path, size: int) -> None:
    """Raise ``OSError(ENOSPC)`` when the disk of ``directory`` cannot take ``size`` more bytes
    and keep ``HEADROOM`` free: a full disk refuses a file before any byte of it is written."""
    if shutil.disk_usage(directory).free < size + HEADROOM:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory))


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file of the same directory renamed once
    complete: a crash or a full disk leaves neither a partial file nor the temporary one."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Storage(Protocol):
    """What BHasile needs from a file store."""

    def save(self, data: bytes) -> str: ...
    def open(self, key: str) -> IO[bytes]: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self) -> Iterator[tuple[str, float]]: ...


class LocalStorage:
    """Files in a local directory, fanned out by the first two characters of their name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key

    def save(self, data: bytes) -> str:
        key = new_key()
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            check_room(target.parent, len(data))
            write_atomic(target, data)
        except OSError as exc:
            raise StorageError(f"Le fichier n'a pas pu être enregistré ({exc.strerror}).") from exc
        return key

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError("Le fichier est introuvable dans le stockage.") from exc

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[tuple[str, float]]:
        """Every stored name with its modification time (temporary files excluded)."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if not sub.is_dir():
                continue
            for item in sorted(sub.iterdir()):
                if KEY_RE.match(item.name) and item.is_file():
                    yield item.name, item.stat().st_mtime


class S3Storage:
    """Files in an S3-compatible bucket (production option, configured by environment only)."""

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_env(cls) -> "S3Storage":
        """``BHASILE_S3_BUCKET`` and its companions (endpoint, region, keys, prefix)."""
        try:
            import boto3  # noqa: PLC0415  (optional dependency, only for this storage)
        except ImportError as exc:
            raise StorageError("BHASILE_S3_BUCKET est défini mais boto3 n'est pas installé.") from exc
        options = {"endpoint_url": os.environ.get("BHASILE_S3_ENDPOINT_URL"),
                   "region_name": os.environ.get("BHASILE_S3_REGION"),
                   "aws_access_key_id": os.environ.get("BHASILE_S3_ACCESS_KEY_ID"),
                   "aws_secret_access_key": os.environ.get("BHASILE_S3_SECRET_ACCESS_KEY")}
        client = boto3.client("s3", **{k: v for k, v in options.items() if v})
        return cls(client, os.environ["BHASILE_S3_BUCKET"], os.environ.get("BHASILE_S3_PREFIX", ""))

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def save(self, data: bytes) -> str:
        key = new_key()
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        return key

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageError("Le fichier est introuvable dans le stockage.") from exc

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
            return True
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def keys(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.prefix):]
                if KEY_RE.match(name):
                    yield name, obj["LastModified"].timestamp()


def documents_dir() -> Path:
    """The local documents directory of the running app."""
    configured = current_app.config.get("BHASILE_DOCUMENTS_DIR") or os.environ.get("BHASILE_DOCUMENTS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "documents"


def get_storage() -> Storage:
    """The storage of the running app (one per app, built on first use)."""
    storage = current_app.extensions.get("bhasile_storage")
    if storage is None:
        bucket = os.environ.get("BHASILE_S3_BUCKET")
        storage = S3Storage.from_env() if bucket else LocalStorage(documents_dir())
        current_app.extensions["bhasile_storage"] = storage
    return storage


def compare_files(storage: Storage, referenced: set[str]) -> tuple[list[tuple[str, float]], list[str]]:
    """Orphans (stored files no document points to, with their time) and missing files."""
    stored = dict(storage.keys())
    orphans = sorted(((k, t) for k, t in stored.items() if k not in referenced), key=lambda kt: kt[0])
    missing = sorted(k for k in referenced if k not in stored)
    return orphans, missing


@bhasile.command("check-files")
@click.option("--delete-orphans", is_flag=True,
              help="Supprimer les fichiers orphelins de plus d'une heure (dépôt en cours exclu).")
def check_files_command(delete_orphans: bool) -> None:
    """Compare les fichiers stockés et la table des documents (code retour 1 si écart)."""
    from app.extensions import db
    from models import Document

    storage = get_storage()
    rows = db.session.execute(select(Document.stockage, Document.id, Document.nom_original)).all()
    orphans, missing = compare_files(storage, {r.stockage for r in rows})
    by_key = {r.stockage: r for r in rows}
    for key, _mtime in orphans:
        click.echo(f"Orphelin (fichier sans document) : {key}")
    for key in missing:
        row = by_key[key]
        click.echo(f"Manquant (document sans fichier) : document {row.id} « {row.nom_original} » ({key})")
    if delete_orphans:
        old = [k for k, t in orphans if time.time() - t > 3600]
        for key in old:
            storage.delete(key)
        click.echo(f"{len(old)} fichier(s) orphelin(s) supprimé(s).")
        orphans = [(k, t) for k, t in orphans if k not in old]
    click.echo(f"{len(rows)} document(s), {len(orphans)} orphelin(s), {len(missing)} manquant(s).")
    if orphans or missing:
        click.get_current_context().exit(1)
