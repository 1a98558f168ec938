"""The storage matches the table: no row without its file, no file without its row, and a
command that says when they drift apart."""
from __future__ import annotations

import datetime as dt
import importlib.util
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
        from app.storage import get_storage, new_key
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
        from app.storage import get_storage

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
        from app.storage import get_storage
        from models import Operateur, Structure

        storage = get_storage()
        both_owners = _document(structure_id=_first(Structure).id, operateur_id=_first(Operateur).id)
        with pytest.raises(IntegrityError):
            save_document(db.session, storage, both_owners, files.pdf(), NATIONAL)
        assert list(storage.keys()) == []


@pytest.mark.parametrize("when", ["disk-already-full", "disk-fills-while-writing"])
def test_a_full_disk_leaves_neither_a_partial_nor_a_temporary_file(fresh_app, monkeypatch, when):
    import errno

    import app.storage

    def no_space(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with fresh_app.app_context():
        storage = app.storage.get_storage()
        if when == "disk-already-full":
            monkeypatch.setattr(app.storage.shutil, "disk_usage", lambda _path: type(
                "Usage", (), {"free": app.storage.HEADROOM})())
        else:  # the bytes are written, the disk fills before they reach it
            monkeypatch.setattr(app.storage.os, "fsync", no_space)
        with pytest.raises(app.storage.StorageError):
            storage.save(files.pdf() * 100)
        monkeypatch.undo()
        assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_delete_removes_the_row_and_the_file(fresh_app):
    with fresh_app.app_context():
        from app.documents import delete_document, save_document
        from app.extensions import db
        from app.storage import get_storage
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
        from app.storage import StorageError, get_storage

        with pytest.raises(StorageError):
            get_storage().open("../../secret_key")


def test_a_bucket_without_boto3_is_a_clear_configuration_error(fresh_app, monkeypatch):
    if importlib.util.find_spec("boto3") is not None:
        pytest.skip("boto3 is installed here")
    monkeypatch.setenv("BHASILE_S3_BUCKET", "bhasile-documents")
    with fresh_app.app_context():
        from app.storage import StorageError, get_storage

        fresh_app.extensions.pop("bhasile_storage", None)
        with pytest.raises(StorageError, match="boto3 n'est pas installé"):
            get_storage()


def test_the_documents_directory_is_configurable(fresh_app, tmp_path):
    fresh_app.config["BHASILE_DOCUMENTS_DIR"] = str(tmp_path / "ailleurs")
    with fresh_app.app_context():
        from app.storage import get_storage

        fresh_app.extensions.pop("bhasile_storage", None)
        key = get_storage().save(b"x")
        fresh_app.extensions.pop("bhasile_storage", None)
    assert (tmp_path / "ailleurs" / key[:2] / key).read_bytes() == b"x"


class FakeS3:
    """Just enough of a boto3 S3 client to check what the bucket storage asks for."""

    class exceptions:  # noqa: N801  (boto3 spelling)
        class ClientError(Exception):
            def __init__(self, code):
                self.response = {"Error": {"Code": code}}

        class NoSuchKey(Exception):
            pass

    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket, Key, Body):  # noqa: N803
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket, Key):  # noqa: N803
        if (Bucket, Key) not in self.objects:
            raise self.exceptions.NoSuchKey()
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def head_object(self, Bucket, Key):  # noqa: N803
        if (Bucket, Key) not in self.objects:
            raise self.exceptions.ClientError("404")

    def delete_object(self, Bucket, Key):  # noqa: N803
        self.objects.pop((Bucket, Key), None)

    def get_paginator(self, name):
        fake = self

        class Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803
                yield {"Contents": [{"Key": k, "LastModified": dt.datetime(2026, 1, 1)}
                                    for (b, k) in fake.objects if b == Bucket and k.startswith(Prefix)]}
        return Paginator()


def test_the_bucket_storage_keeps_random_names_under_its_prefix():
    from app.storage import S3Storage, StorageError, compare_files

    client = FakeS3()
    storage = S3Storage(client, "bhasile", prefix="/documents/")
    key = storage.save(b"%PDF-1.4")
    assert list(client.objects) == [("bhasile", f"documents/{key}")]
    assert storage.open(key).read() == b"%PDF-1.4" and storage.exists(key)
    client.put_object(Bucket="bhasile", Key="documents/README", Body=b"not ours")
    assert compare_files(storage, {key, "0" * 32}) == ([], ["0" * 32])
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(StorageError):
        storage.open(key)
