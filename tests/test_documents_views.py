"""Agents and opérateurs upload, list, download and delete documents within their territory;
every step is in the change history and the storage always matches the table."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import Auth, client_for, make_app
from tests import test_documents_samples as files


@pytest.fixture(scope="module")
def docs_app(template_db, tmp_path_factory):
    """An app on its own copy of the demo park, documents limited to 1 Mo."""
    url, tmp = template_db
    instance = tmp_path_factory.mktemp("docs")
    application = make_app(dbutil.clone(url, tmp), instance, BHASILE_DOCUMENT_MAX_MB=1)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _query(application, statement):
    with application.app_context():
        from app.extensions import db

        return db.session.execute(statement).all()


def structure_id(application, *, in_calvados: bool, of_operateur: bool | None = None) -> int:
    from models import Departement, Operateur, Structure
    from models.user import BhasileUser

    calvados = select(Departement.id).where(Departement.code == "14").scalar_subquery()
    owner = select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur").scalar_subquery()
    query = select(Structure.id).join(Operateur, Operateur.id == Structure.operateur_id)
    query = query.where(Structure.departement_id == calvados if in_calvados
                        else Structure.departement_id != calvados)
    if of_operateur is not None:
        query = query.where(Structure.operateur_id == owner if of_operateur
                            else Structure.operateur_id != owner)
    return _query(application, query.order_by(Structure.id).limit(1))[0][0]


def upload(client, owner_id: int, data: bytes, name: str, kind: str = "structure", **fields):
    page = f"/documents/{kind}/{owner_id}/"
    form = {"csrf_token": Auth(client).csrf(page), "categorie": "BUDGET_PREVISIONNEL_DEMANDE",
            "annee": "2026", "fichier": (io.BytesIO(data), name), **fields}
    return client.post(page + "upload", data=form, content_type="multipart/form-data")


def documents(application, **where):
    from models import Document

    query = select(Document)
    for key, value in where.items():
        query = query.where(getattr(Document, key) == value)
    return [row[0] for row in _query(application, query.order_by(Document.id))]


def stored_files(application) -> set[str]:
    root = Path(application.instance_path) / "documents"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def history(application, action: str, doc_id: int):
    from models import Changement

    return [row[0] for row in _query(application, select(Changement).where(
        Changement.entity == "document", Changement.action == action, Changement.entity_id == doc_id))]


@pytest.mark.parametrize("name,build,mime", files.ACCEPTED, ids=[a[0] for a in files.ACCEPTED])
def test_each_accepted_type_goes_in_and_comes_back_unchanged(docs_app, name, build, mime):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    data = build()
    response = upload(client, sid, data, name)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    doc = documents(docs_app, structure_id=sid, nom_original=name)[-1]
    assert doc.mime_type == mime and doc.taille == len(data) and doc.uploaded_by == "calvados"
    assert doc.stockage in stored_files(docs_app) and name not in stored_files(docs_app)
    download = client.get(f"/documents/{doc.id}/download")
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"].startswith(mime)
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_download_keeps_its_sandbox_policy_under_the_global_one(docs_app):
    """The page policy lets same-origin scripts run; a stored file opened in the browser must
    not: the download's own ``sandbox`` policy is the one sent, with nosniff and attachment."""
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    page = b"<html><script>alert(document.cookie)</script></html>"
    assert upload(client, sid, files.csv() + page, "piege.csv").status_code == 302
    doc = documents(docs_app, structure_id=sid, nom_original="piege.csv")[-1]
    download = client.get(f"/documents/{doc.id}/download")
    assert download.status_code == 200
    policy = download.headers.getlist("Content-Security-Policy")
    assert policy == ["default-src 'none'; sandbox"], policy
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "nonce-" in client.get(f"/documents/structure/{sid}/").headers["Content-Security-Policy"]


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_a_renamed_executable_is_refused(docs_app, platform):
    sid = structure_id(docs_app, in_calvados=True)
    before = stored_files(docs_app)
    response = upload(client_for(docs_app, "calvados"), sid, files.EXECUTABLES[platform], "facture.pdf")
    assert response.status_code == 400
    assert "Fichier refusé : c&#39;est un programme exécutable." in response.get_data(as_text=True)
    assert not documents(docs_app, nom_original="facture.pdf")
    assert stored_files(docs_app) == before


@pytest.mark.parametrize("name, build", [
    ("macros.xls", lambda: files.xls(vba=True)), ("macros.doc", files.doc_with_macros),
    ("macros.ods", lambda: files.opendocument_with("spreadsheet", "Basic")),
    ("macros.odt", lambda: files.opendocument_with("text", "Scripts")),
], ids=["xls-vba", "doc-vba", "ods-basic", "odt-scripts"])
def test_a_document_with_macros_is_refused_and_nothing_is_stored(docs_app, name, build):
    sid = structure_id(docs_app, in_calvados=True)
    before = stored_files(docs_app)
    response = upload(client_for(docs_app, "calvados"), sid, build(), name)
    assert response.status_code == 400
    assert "contenant des macros ne sont pas acceptés" in response.get_data(as_text=True)
    assert not documents(docs_app, nom_original=name)
    assert stored_files(docs_app) == before


def test_an_oversize_file_is_refused_with_a_french_message(docs_app):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    before = stored_files(docs_app)
    just_over = files.pdf() + b"0" * (1024 * 1024)
    response = upload(client, sid, just_over, "gros.pdf")
    assert response.status_code == 400
    assert "dépasse la taille maximale autorisée (1 Mo)" in response.get_data(as_text=True)
    far_over = files.pdf() + b"0" * (3 * 1024 * 1024)  # beyond what the server even reads
    response = upload(client, sid, far_over, "enorme.pdf")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "dépasse la taille maximale autorisée (1 Mo)" in page
    assert not documents(docs_app, nom_original="gros.pdf") + documents(docs_app, nom_original="enorme.pdf")
    assert stored_files(docs_app) == before


@pytest.mark.parametrize("given", ["../../../../etc/cron.d/évil.pdf", "....//....//\x07évil.pdf"])
def test_path_traversal_in_a_name_is_harmless(docs_app, given):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    assert upload(client, sid, files.pdf(), given).status_code == 302
    doc = documents(docs_app, structure_id=sid)[-1]
    assert doc.nom_original == "évil.pdf"
    assert re.fullmatch(r"[0-9a-f]{32}", doc.stockage)
    root = Path(docs_app.instance_path) / "documents"
    assert (root / doc.stockage[:2] / doc.stockage).read_bytes() == files.pdf()
    assert not [p for p in Path(docs_app.instance_path).parent.rglob("*vil*") if p.is_file()]
    header = client.get(f"/documents/{doc.id}/download").headers["Content-Disposition"]
    assert header == "attachment; filename=\"evil.pdf\"; filename*=UTF-8''%C3%A9vil.pdf"


def test_out_of_scope_documents_are_not_found(docs_app):
    other = structure_id(docs_app, in_calvados=False)
    admin = client_for(docs_app, "admin")
    assert upload(admin, other, files.pdf(), "ailleurs.pdf").status_code == 302
    doc = documents(docs_app, nom_original="ailleurs.pdf")[-1]
    calvados = client_for(docs_app, "calvados")
    assert calvados.get(f"/documents/{doc.id}/download").status_code == 404
    assert calvados.get(f"/documents/structure/{other}/").status_code == 404
    token = Auth(calvados).csrf(f"/documents/structure/{structure_id(docs_app, in_calvados=True)}/")
    assert calvados.post(f"/documents/{doc.id}/delete", data={"csrf_token": token}).status_code == 404
    assert "ailleurs.pdf" not in calvados.get("/documents/list/").get_data(as_text=True)
    assert documents(docs_app, nom_original="ailleurs.pdf")
    assert admin.get(f"/documents/{doc.id}/download").status_code == 200


def test_a_reader_cannot_upload(docs_app):
    sid = structure_id(docs_app, in_calvados=True)
    lecteur = client_for(docs_app, "lecteur")
    page = lecteur.get(f"/documents/structure/{sid}/")
    assert page.status_code == 200 and "Déposer un document" not in page.get_data(as_text=True)
    response = lecteur.post(f"/documents/structure/{sid}/upload", content_type="multipart/form-data",
                            data={"categorie": "AUTRE", "fichier": (io.BytesIO(files.pdf()), "l.pdf")})
    assert response.status_code == 403
    assert not documents(docs_app, nom_original="l.pdf")


def test_an_operateur_uploads_on_its_own_structures_only(docs_app):
    own = structure_id(docs_app, in_calvados=False, of_operateur=True)
    foreign = structure_id(docs_app, in_calvados=False, of_operateur=False)
    client = client_for(docs_app, "operateur")
    assert upload(client, own, files.pdf(), "operateur-ok.pdf").status_code == 302
    assert documents(docs_app, structure_id=own, nom_original="operateur-ok.pdf")
    assert client.get(f"/documents/structure/{foreign}/").status_code == 404
    response = client.post(f"/documents/structure/{foreign}/upload", content_type="multipart/form-data",
                           data={"categorie": "AUTRE", "fichier": (io.BytesIO(files.pdf()), "x.pdf")})
    assert response.status_code == 404
    own_operateur = _query(docs_app, _operateur_of("operateur"))[0][0]
    page = client.get(f"/documents/operateur/{own_operateur}/")
    assert page.status_code == 200 and "Déposer un document" not in page.get_data(as_text=True)
    assert not documents(docs_app, nom_original="x.pdf")
    admin = client_for(docs_app, "admin")
    assert upload(admin, own_operateur, files.pdf(), "statuts.pdf", kind="operateur",
                  categorie="AUTRE").status_code == 302
    doc = documents(docs_app, nom_original="statuts.pdf")[-1]
    assert client.get(f"/documents/{doc.id}/download").status_code == 200
    token = Auth(client).csrf(f"/documents/structure/{own}/")
    refused = client.post(f"/documents/{doc.id}/delete", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Votre rôle ne permet pas de modifier ces données." in refused.get_data(as_text=True)
    assert documents(docs_app, nom_original="statuts.pdf")


def _operateur_of(username: str):
    from models.user import BhasileUser

    return select(BhasileUser.operateur_id).where(BhasileUser.username == username)


def test_upload_download_and_delete_are_in_the_history(docs_app):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    assert upload(client, sid, files.csv(), "historique.csv", categorie="RAPPORT_ACTIVITE",
                  annee="2025").status_code == 302
    doc = documents(docs_app, nom_original="historique.csv")[-1]
    client.get(f"/documents/{doc.id}/download")
    token = Auth(client).csrf(f"/documents/structure/{sid}/")
    response = client.post(f"/documents/{doc.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert not documents(docs_app, nom_original="historique.csv")
    assert doc.stockage not in stored_files(docs_app)
    for action in ("upload", "download", "delete"):
        rows = history(docs_app, action, doc.id)
        assert len(rows) == 1, action
        assert rows[0].username == "calvados" and rows[0].structure_id == sid
        assert rows[0].origin == "form" and rows[0].key == "historique.csv"
    assert history(docs_app, "delete", doc.id)[0].old_value == "RAPPORT_ACTIVITE 2025"


def test_upload_and_delete_need_the_form_token(docs_app):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)  # no token in the header either
    response = client.post(f"/documents/structure/{sid}/upload", content_type="multipart/form-data",
                           data={"categorie": "AUTRE", "fichier": (io.BytesIO(files.pdf()), "sans-jeton.pdf")})
    assert response.status_code in (302, 400)  # refused, whichever layer checks the token first
    assert not documents(docs_app, nom_original="sans-jeton.pdf")
    assert upload(client, sid, files.pdf(), "garde.pdf").status_code == 302
    doc = documents(docs_app, nom_original="garde.pdf")[-1]
    client.post(f"/documents/{doc.id}/delete")
    assert documents(docs_app, nom_original="garde.pdf")


def test_an_avenant_hangs_under_its_convention(docs_app):
    sid = structure_id(docs_app, in_calvados=True)
    client = client_for(docs_app, "calvados")
    upload(client, sid, files.pdf(), "convention-2024.pdf", categorie="CONVENTION", annee="",
           periode_debut="2024-01-01", periode_fin="2026-12-31")
    parent = documents(docs_app, nom_original="convention-2024.pdf")[-1]
    assert upload(client, sid, files.pdf(), "avenant-1.pdf", categorie="CONVENTION", annee="2025",
                  parent_id=str(parent.id)).status_code == 302
    avenant = documents(docs_app, nom_original="avenant-1.pdf")[-1]
    assert avenant.parent_id == parent.id
    page = client.get(f"/documents/structure/{sid}/").get_data(as_text=True)
    table = page.split('id="docs-title"')[1].split('id="upload-title"')[0]
    assert table.index("convention-2024.pdf") < table.index("Avenant") < table.index("avenant-1.pdf")
    token = Auth(client).csrf(f"/documents/structure/{sid}/")
    response = client.post(f"/documents/{parent.id}/delete", data={"csrf_token": token},
                           follow_redirects=True)
    assert "supprimez-les d&#39;abord" in response.get_data(as_text=True)
    assert documents(docs_app, nom_original="convention-2024.pdf")


@pytest.mark.parametrize("fields,message", [
    ({"annee": ""}, "Indiquez l&#39;année ou la période"),
    ({"annee": "", "periode_debut": "2026-12-31", "periode_fin": "2026-01-01"}, "postérieure à son début"),
    ({"annee": "3000"}, "entre 1990 et 2100"),
])
def test_bad_form_input_gets_a_french_message(docs_app, fields, message):
    sid = structure_id(docs_app, in_calvados=True)
    response = upload(client_for(docs_app, "calvados"), sid, files.pdf(), "mauvais.pdf", **fields)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert not documents(docs_app, nom_original="mauvais.pdf")


def test_files_survive_a_restart(docs_app, template_db):
    sid = structure_id(docs_app, in_calvados=True)
    upload(client_for(docs_app, "calvados"), sid, files.png(), "persistant.png")
    doc = documents(docs_app, nom_original="persistant.png")[-1]
    again = make_app(docs_app.config["SQLALCHEMY_DATABASE_URI"], Path(docs_app.instance_path))
    assert client_for(again, "calvados").get(f"/documents/{doc.id}/download").data == files.png()
    with again.app_context():
        from app.extensions import db

        db.engine.dispose()
