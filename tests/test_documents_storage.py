"""The storage matches the table: no row without its file, no file without its row, and a
command that says when they drift apart."""
from __future__ import annotations

import datetime as dt
import io
import os
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.scope import NATIONAL
from tests.conftest import run_cli
from tests import test_documents_samples as files


def _document(**values):
    from models import Document
    from models.enums import CategorieDocument

    base = {"categorie": CategorieDocument.AUTRE, "nom_original": "acte.pdf", "taille": 10,
            "mime_type": "application/pdf"}
    return Document(**{**base, **values})


def _first(model):
    from app.extensions import db

    return db.session.scalars(select(model).order_by(model.id).limit(1)).one()


def test_check_files_reports_orphans_and_missing_files(fresh_app):
    result = run_cli(fresh_app, "bhasile", "check-files")
    assert result.exit_code == 0, result.output
    assert "0 orphelin(s), 0 manquant(s)" in result.output
    with fresh_app.app_context():
        from app.documents import save_document
        from app.extensions import db
        from app.documents.storage import get_storage, new_key
        from models import Structure

        storage = get_storage()
        structure = _first(Structure)
        kept = save_document(db.session, storage, _document(structure_id=structure.id), files.pdf(), NATIONAL)
        orphan = storage.save(b"fichier sans document")
        lost = _document(structure_id=structure.id, nom_original="perdu.pdf", stockage=new_key())
        db.session.add(lost)
        db.session.commit()
        lost_id, lost_key, kept_key = lost.id, lost.stockage, kept.stockage
    result = fresh_app.test_cli_runner().invoke(args=["bhasile", "check-files"])
    assert result.exit_code == 1
    assert f"Orphelin (fichier sans document) : {orphan}" in result.output
    assert f"Manquant (document sans fichier) : document {lost_id} « perdu.pdf » ({lost_key})" in result.output
    assert kept_key not in result.output
    assert "2 document(s), 1 orphelin(s), 1 manquant(s)." in result.output


def test_check_files_deletes_only_old_orphans_on_request(fresh_app):
    with fresh_app.app_context():
        from app.documents.storage import get_storage

        storage = get_storage()
        old, recent = storage.save(b"ancien"), storage.save(b"en cours de depot")
        an_hour_ago = time.time() - 7200
        os.utime(storage.path(old), (an_hour_ago, an_hour_ago))
    result = fresh_app.test_cli_runner().invoke(args=["bhasile", "check-files", "--delete-orphans"])
    assert "1 fichier(s) orphelin(s) supprimé(s)." in result.output and result.exit_code == 1
    with fresh_app.app_context():
        assert not storage.exists(old) and storage.exists(recent)


def test_a_failed_insert_leaves_no_file_behind(fresh_app):
    with fresh_app.app_context():
        from app.documents import save_document
        from app.extensions import db
        from app.documents.storage import get_storage
        from models import Operateur, Structure

        storage = get_storage()
        both_owners = _document(structure_id=_first(Structure).id, operateur_id=_first(Operateur).id)
        with pytest.raises(IntegrityError):
            save_document(db.session, storage, both_owners, files.pdf(), NATIONAL)
        assert list(storage.keys()) == []


@pytest.mark.parametrize("when", ["disk-already-full", "disk-fills-while-writing"])
def test_a_full_disk_leaves_neither_a_partial_nor_a_temporary_file(fresh_app, monkeypatch, when):
    import errno

    import app.documents.storage

    def no_space(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with fresh_app.app_context():
        storage = app.documents.storage.get_storage()
        if when == "disk-already-full":
            monkeypatch.setattr(app.documents.storage.shutil, "disk_usage", lambda _path: type(
                "Usage", (), {"free": app.documents.storage.HEADROOM})())
        else:  # the bytes are written, the disk fills before they reach it
            monkeypatch.setattr(app.documents.storage.os, "fsync", no_space)
        with pytest.raises(app.documents.storage.StorageError):
            storage.save(files.pdf() * 100)
        monkeypatch.undo()
        assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_delete_removes_the_row_and_the_file(fresh_app):
    with fresh_app.app_context():
        from app.documents import delete_document, save_document
        from app.extensions import db
        from app.documents.storage import get_storage
        from models import Document, Structure

        storage = get_storage()
        doc = save_document(db.session, storage, _document(structure_id=_first(Structure).id), files.pdf(),
                            NATIONAL)
        key, doc_id = doc.stockage, doc.id
        assert storage.exists(key)
        delete_document(db.session, storage, doc, NATIONAL)
        assert db.session.get(Document, doc_id) is None and not storage.exists(key)


def test_stored_names_cannot_point_outside_the_storage(fresh_app):
    with fresh_app.app_context():
        from app.documents.storage import StorageError, get_storage

        with pytest.raises(StorageError):
            get_storage().open("../../secret_key")


def test_the_documents_directory_is_configurable(fresh_app, tmp_path):
    fresh_app.config["BHASILE_DOCUMENTS_DIR"] = str(tmp_path / "ailleurs")
    with fresh_app.app_context():
        from app.documents.storage import get_storage

        fresh_app.extensions.pop("bhasile_storage", None)
        key = get_storage().save(b"x")
        fresh_app.extensions.pop("bhasile_storage", None)
    assert (tmp_path / "ailleurs" / key[:2] / key).read_bytes() == b"x"


def test_stored_names_of_every_area_refuse_traversal_and_junk(fresh_app):
    with fresh_app.app_context():
        from app.documents.storage import StorageError, file_store

        store = file_store()
        for name in ("../secret_key", "exports/../../secret_key", "/etc/passwd", "exports/.hidden",
                     "autre/1.xlsx", "exports/a/../../b", "exports/", "exports/a b", 3):
            with pytest.raises(StorageError):
                store.path(name)
        store.put("exports/1.xlsx", b"ok")
        assert store.read("exports/1.xlsx") == b"ok" and [n for n, _t in store.listing("exports")] == ["exports/1.xlsx"]
