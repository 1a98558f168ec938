"""Every file through a real S3-compatible server (moto's standalone server on the loopback):
a document uploaded and downloaded, an import's original kept and read back, a background
export written and served; a bucket that cannot be reached is a French message, never a 500."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from tests import dbutil
from tests.cluster import S3Server, s3_config
from tests.conftest import SAMPLES, client_for, make_app
from tests.test_documents_views import structure_id, upload
from tests import test_documents_samples as files
from tests.test_export_background import _follow


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


@pytest.fixture()
def s3_app(template_db, tmp_path, s3):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path, **s3_config(s3, tmp_path.name))
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_document_import_and_export_go_through_the_bucket(s3_app, s3):
    prefix = s3_app.config["BHASILE_STORAGE_URL"].split("/", 3)[3]
    client = client_for(s3_app, "calvados")
    # a document
    data = files.pdf()
    assert upload(client, structure_id(s3_app, in_calvados=True), data, "acte.pdf").status_code == 302
    stored = s3.keys(f"{prefix}/documents/")
    assert len(stored) == 1 and "acte" not in stored[0]
    with s3_app.app_context():
        from app.extensions import db
        from models import Document

        doc_id = db.session.query(Document.id).order_by(Document.id.desc()).first()[0]
    assert client.get(f"/documents/{doc_id}/download").data == data
    # an import: the original in the bucket, read back for the annotated file and the original
    workbook = (SAMPLES / "classeur-exemple.xlsx").read_bytes()
    token = client.get("/imports/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', token).group(1)
    response = client.post("/imports/envoyer", content_type="multipart/form-data", data={
        "csrf_token": token, "fichier": (io.BytesIO(workbook), "classeur-exemple.xlsx")})
    assert response.status_code == 302
    batch = int(re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1))
    assert len(s3.keys(f"{prefix}/imports/")) == 1
    assert client.get(f"/imports/{batch}/original").data == workbook
    assert client.get(f"/imports/{batch}/annote").status_code in (200, 302)
    # a background export: written to the bucket, served from it
    s3_app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 5
    done = _follow(client, client.get("/exporter/classeur.xlsx"))[-1]
    assert done["status"] == "termine", done
    assert s3.keys(f"{prefix}/exports/") == [f"{prefix}/exports/{done['id']}.xlsx"]
    download = client.get(done["download_url"])
    assert download.status_code == 200
    assert len(load_workbook(io.BytesIO(download.data), read_only=True).sheetnames) > 1
    # someone else: nothing
    assert client_for(s3_app, "normandie").get(done["download_url"]).status_code == 404


def test_an_unreachable_bucket_is_a_french_message_never_a_500(template_db, tmp_path):
    from tests.cluster import free_port

    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path,
                           BHASILE_STORAGE_URL="s3://nowhere/x",
                           BHASILE_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    client = client_for(application, "calvados")
    page = client.get("/imports/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/imports/envoyer", content_type="multipart/form-data", data={
        "csrf_token": token, "fichier": (io.BytesIO(b"a;b\n1;2\n"), "petit.csv")})
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text[:500]
    assert "stockage des fichiers est injoignable" in text and "Traceback" not in text
    response = upload(client, structure_id(application, in_calvados=True), files.pdf(), "acte.pdf")
    assert response.status_code in (302, 503)
    assert "Traceback" not in response.get_data(as_text=True)
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
