"""Where every file lives: one fsspec file store, a local folder or an S3-compatible bucket.

``BHASILE_STORAGE_URL`` chooses it (default: the instance folder; ``s3://bucket/prefix`` with
``BHASILE_S3_ENDPOINT_URL`` for any S3-compatible store, through s3fs). Files are kept by area:
``documents/`` (random names, ``Document.stockage``), ``imports/`` (the originals of import
batches), ``exports/`` (background exports). Stored names never come from what a user typed
(``checked_name`` refuses anything else), and every failure of the store is a ``StorageError``
with a French message. ``flask bhasile check-files`` compares the documents with the
``document`` table.
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
import logging
from typing import IO, Iterator, Optional, Protocol

import click
from flask.cli import with_appcontext
from flask import current_app, has_request_context
from sqlalchemy import select
from app.extensions import db
from models import Document


log = logging.getLogger(__name__)


def _(text: str) -> str:
    """Flask-Babel's gettext in a request (the agent's language); the French msgid elsewhere
    (a job worker, a command)."""
    if not has_request_context():
        return text
    from flask_babel import gettext

    return gettext(text)

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


def check_room_for(size: int) -> None:
    """``check_room`` on the disk of a local file store (a bucket has no such limit here)."""
    store = file_store()
    if store.local:
        root = Path(store.root)
        root.mkdir(parents=True, exist_ok=True)
        check_room(root, size)


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
    """What the documents need from a file store."""

    def save(self, data: bytes) -> str: ...
    def open(self, key: str) -> IO[bytes]: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self) -> Iterator[tuple[str, float]]: ...


#: A stored name outside the documents: an area, then one or more plain segments (letters,
#: digits, dot, dash, underscore; never « .. », never a leading slash or dot).
NAME_RE = re.compile(r"^(documents|imports|exports|annotations|generes|campagnes)"
                     r"(/[A-Za-z0-9][A-Za-z0-9._-]{0,180})+$")


def checked_name(name: str) -> str:
    """``name`` if it is a safe stored name, else ``StorageError`` (path traversal, junk)."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise StorageError(f"Nom de fichier stocké invalide : {name!r}.")
    return name


def _unreachable(exc: BaseException) -> StorageError:
    log.warning("stockage de fichiers : %s: %s", type(exc).__name__, exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"Le fichier n'a pas pu être enregistré ({exc.strerror}).")
    return StorageError(_("Le stockage des fichiers est injoignable pour le moment : réessayez "
                          "dans quelques minutes ; si le problème persiste, prévenez "
                          "l'administrateur."))


class FileStore:
    """Every BHasile file, under names like ``exports/12.xlsx``, in one fsspec filesystem:
    a local folder (``file://…``, the default) or an S3-compatible bucket (``s3://bucket/prefix``).

    Writes are atomic for readers: a local file is written beside its target and renamed, an
    S3 object appears only once its upload completes. Every failure of the store is a
    ``StorageError`` with a French message (an unreachable bucket is never a 500).
    """

    def __init__(self, url: str, flat_area: Optional[str] = None, **options) -> None:
        import fsspec  # noqa: PLC0415

        self.url, self.flat_area = url, flat_area
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.root = root.rstrip("/")
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple)
                                else (self.fs.protocol,))

    def path(self, name: str) -> str:
        name = checked_name(name)
        if self.flat_area and name.startswith(self.flat_area + "/"):
            name = name[len(self.flat_area) + 1:]  # a store that holds one area at its root
        return f"{self.root}/{name}"

    def _call(self, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StorageError:
            raise
        except FileNotFoundError as exc:
            raise StorageError("Le fichier est introuvable dans le stockage.") from exc
        except Exception as exc:  # noqa: BLE001 — botocore, aiohttp, OSError…: one French message
            raise _unreachable(exc) from exc

    def _local_target(self, name: str) -> Path:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def put(self, name: str, data: bytes) -> None:
        if self.local:
            target = self._local_target(name)
            try:
                check_room(target.parent, len(data))
                write_atomic(target, data)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise  # a full disk: the French 507 of app.web.errors
                raise _unreachable(exc) from exc
            return
        self._call(self.fs.pipe_file, self.path(name), data)

    def put_file(self, name: str, source: str | Path) -> None:
        """Copy a local (temporary) file into the store under ``name``."""
        if self.local:
            target = self._local_target(name)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                if isinstance(exc, OSError):
                    raise _unreachable(exc) from exc
                raise
            return
        self._call(self.fs.put_file, str(source), self.path(name))

    def open(self, name: str) -> IO[bytes]:
        return self._call(self.fs.open, self.path(name), "rb")

    def read(self, name: str) -> bytes:
        return self._call(self.fs.cat_file, self.path(name))

    def size(self, name: str) -> int:
        return int(self._call(self.fs.size, self.path(name)))

    def exists(self, name: str) -> bool:
        return bool(self._call(self.fs.exists, self.path(name)))

    def delete(self, name: str) -> None:
        path = self.path(name)
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm_file, path)

    def listing(self, area: str) -> Iterator[tuple[str, float]]:
        """Every stored name under ``area`` (« exports »…) with its modification time."""
        base = self.root if area == self.flat_area else f"{self.root}/{area}"
        try:
            found = self._call(self.fs.find, base, detail=True)
        except StorageError:
            if self.local and not Path(base).exists():
                return
            raise
        for path, info in sorted(found.items()):
            name = path[len(self.root) + 1:] if path.startswith(self.root + "/") else path
            if area == self.flat_area:
                name = f"{area}/{name}"
            if "/." in "/" + name or not NAME_RE.match(name):
                continue  # temporary files of a write in progress
            yield name, _mtime(info)


def _mtime(info: dict) -> float:
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


class DocumentStorage:
    """The documents' interface (random 32-hex names, fanned out by their first two
    characters) over a ``FileStore`` area: ``documents/ab/ab12…``."""

    def __init__(self, store: FileStore, area: str = "documents") -> None:
        self.store, self.area = store, area

    @property
    def root(self) -> Path:
        """The local folder of the documents (a local store only)."""
        return Path(self.store.root) / ("" if self.store.flat_area == self.area else self.area)

    def _name(self, key: str) -> str:
        key = _checked(key)
        return f"{self.area}/{key[:2]}/{key}"

    def path(self, key: str) -> Path:
        """The local file of ``key`` (a local store only)."""
        return Path(self.store.path(self._name(key)))

    def save(self, data: bytes) -> str:
        key = new_key()
        try:
            self.store.put(self._name(key), data)
        except OSError as exc:
            raise StorageError(f"Le fichier n'a pas pu être enregistré ({exc.strerror}).") from exc
        return key

    def open(self, key: str) -> IO[bytes]:
        return self.store.open(self._name(key))

    def delete(self, key: str) -> None:
        self.store.delete(self._name(key))

    def exists(self, key: str) -> bool:
        return self.store.exists(self._name(key))

    def keys(self) -> Iterator[tuple[str, float]]:
        for name, mtime in self.store.listing(self.area):
            key = name.rsplit("/", 1)[-1]
            if KEY_RE.match(key):
                yield key, mtime


def LocalStorage(root: str | Path) -> DocumentStorage:  # noqa: N802 — the former class's name
    """Documents in a local directory (``root/ab/ab12…``)."""
    return DocumentStorage(FileStore(f"file://{Path(root).resolve()}", flat_area="documents"))


def storage_url() -> str:
    """``BHASILE_STORAGE_URL`` (``s3://bucket/prefix``, ``file:///srv/bhasile``), default the
    instance folder."""
    url = current_app.config.get("BHASILE_STORAGE_URL") or ""
    if not url:
        url = f"file://{Path(current_app.config.get('INSTANCE_DIR') or current_app.instance_path).resolve()}"
    return url


def store_options(url: str) -> dict:
    """fsspec options of an S3 URL: endpoint and region from the settings; the keys from the
    usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (read by s3fs itself)."""
    if not url.startswith(("s3://", "s3a://")):
        return {}
    options: dict = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60,
                                       "retries": {"max_attempts": 2}}}
    endpoint = current_app.config.get("BHASILE_S3_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    region = current_app.config.get("BHASILE_S3_REGION")
    if region:
        options["client_kwargs"] = {"region_name": region}
    return options


def file_store() -> FileStore:
    """The file store of the running app (one per app, built on first use)."""
    store = current_app.extensions.get("bhasile_files")
    if store is None:
        url = storage_url()
        try:
            store = FileStore(url, **store_options(url))
        except (ImportError, ValueError) as exc:
            raise StorageError(f"BHASILE_STORAGE_URL « {url} » n'est pas utilisable : {exc}.") from exc
        current_app.extensions["bhasile_files"] = store
    return store


def documents_dir() -> Optional[Path]:
    """A local documents directory forced by ``BHASILE_DOCUMENTS_DIR`` (else the store's area)."""
    configured = current_app.config.get("BHASILE_DOCUMENTS_DIR")
    return Path(configured) if configured else None


def get_storage() -> Storage:
    """The documents' storage of the running app (the ``documents`` area of the file store)."""
    storage = current_app.extensions.get("bhasile_storage")
    if storage is None:
        forced = documents_dir()
        storage = LocalStorage(forced) if forced else DocumentStorage(file_store())
        current_app.extensions["bhasile_storage"] = storage
    return storage


def compare_files(storage: Storage, referenced: set[str]) -> tuple[list[tuple[str, float]], list[str]]:
    """Orphans (stored files no document points to, with their time) and missing files."""
    stored = dict(storage.keys())
    orphans = sorted(((k, t) for k, t in stored.items() if k not in referenced), key=lambda kt: kt[0])
    missing = sorted(k for k in referenced if k not in stored)
    return orphans, missing


@click.command("check-files")
@click.option("--delete-orphans", is_flag=True,
              help="Supprimer les fichiers orphelins de plus d'une heure (dépôt en cours exclu).")
@with_appcontext
def check_files_command(delete_orphans: bool) -> None:
    """Compare les fichiers stockés et la table des documents (code retour 1 si écart)."""
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
