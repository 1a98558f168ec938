"""Document uploads and deletes go through the write gate: the owner (structure, convention,
opérateur) must be inside the user's territory (else 404), a convention's or an opérateur's
documents need the right on that convention or opérateur (an opérateur files documents on its
own structures only), a reader writes nothing. Every refusal is in French, stores no file,
writes no row, says nothing of another territory's records and is never a 500."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import exists, func, select

from tests import dbutil
from tests import test_documents_samples as files
from tests.conftest import client_for, make_app
from tests.test_documents_views import stored_files


@pytest.fixture(scope="module")
def gate_app(template_db, tmp_path_factory):
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("documents_gate"),
                           BHASILE_DOCUMENT_MAX_MB=1)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _session():
    from app.extensions import db

    return db.session


@pytest.fixture(scope="module")
def park(gate_app):
    """Owners inside and outside the Calvados, the demo opérateur's own and others', and a
    document stored on each owner the users below must not touch."""
    from app.documents import save_document
    from app.scope import NATIONAL
    from app.documents.storage import get_storage
    from models import BhasileUser, Convention, ConventionStructure, Departement, Document, Operateur, Structure
    from models.enums import CategorieDocument

    with gate_app.app_context():
        s = _session()
        calvados = s.scalar(select(Departement.id).where(Departement.code == "14"))
        op = s.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        in_14 = select(Structure.id).where(Structure.departement_id == calvados)
        runs_in_14 = exists().where(Structure.operateur_id == Operateur.id, Structure.departement_id == calvados)
        runs_any = exists().where(Structure.operateur_id == Operateur.id)
        covers = lambda ids: exists().where(ConventionStructure.convention_id == Convention.id,  # noqa: E731
                                            ConventionStructure.structure_id.in_(ids))
        own_structures = select(Structure.id).where(Structure.operateur_id == op)
        first = lambda q: s.scalar(q.limit(1))  # noqa: E731
        ids = {
            "mine": first(select(Structure.id).where(Structure.departement_id == calvados).order_by(Structure.id)),
            "paris": first(select(Structure.id).join(Departement).where(Departement.code == "75")
                           .where(Structure.operateur_id != op).order_by(Structure.id)),
            "foreign_op": first(select(Operateur.id).where(runs_any, ~runs_in_14, Operateur.id != op)
                                .order_by(Operateur.id)),
            "unused_op": first(select(Operateur.id).where(~runs_any).order_by(Operateur.id)),
            "foreign_conv": first(select(Convention.id).where(~covers(in_14), Convention.operateur_id != op,
                                                              ~covers(own_structures)).order_by(Convention.id)),
            "own_conv": first(select(Convention.id).where(Convention.operateur_id == op).order_by(Convention.id)),
            "own_structure": first(select(Structure.id).where(Structure.operateur_id == op).order_by(Structure.id)),
            "op": op,
        }
        assert all(ids.values()), ids
        names = {"foreign_op": s.get(Operateur, ids["foreign_op"]).nom,
                 "unused_op": s.get(Operateur, ids["unused_op"]).nom,
                 "paris": s.get(Structure, ids["paris"]).nom}
        docs = {}
        for key, attr in (("foreign_op", "operateur_id"), ("foreign_conv", "convention_id"),
                          ("own_conv", "convention_id"), ("paris", "structure_id"), ("mine", "structure_id"),
                          ("op", "operateur_id")):
            doc = Document(categorie=CategorieDocument.AUTRE, nom_original=f"secret-{key}.pdf",
                           taille=len(files.pdf()), mime_type="application/pdf", uploaded_by="admin",
                           **{attr: ids[key]})
            docs[key] = save_document(s, get_storage(), doc, files.pdf(), NATIONAL).id
    return {**ids, "names": names, "docs": docs}


def snapshot(application) -> tuple:
    """Every row and file a document write could leave: documents, history, stored files."""
    from models import Changement, Document

    with application.app_context():
        s = _session()
        return (s.execute(select(Document.id, Document.nom_original).order_by(Document.id)).all(),
                s.scalar(select(func.count(Changement.id))), stored_files(application))


def token(client) -> str:
    return client.environ_base["HTTP_X_CSRFTOKEN"]


def upload(client, kind: str, owner, name: str = "depot.pdf", with_token: bool = True, **fields):
    form = {"categorie": "AUTRE", "annee": "2026", "fichier": (io.BytesIO(files.pdf()), name), **fields}
    if with_token:
        form["csrf_token"] = token(client)
    return client.post(f"/documents/{kind}/{owner}/upload", data=form, content_type="multipart/form-data")


def delete(client, doc_id, with_token: bool = True):
    return client.post(f"/documents/{doc_id}/delete", data={"csrf_token": token(client)} if with_token else {})


# --- finding: an agent wrote documents of opérateurs and conventions outside its territory ----

def test_an_agent_cannot_upload_or_delete_on_an_operateur_or_convention_outside_the_territory(gate_app, park):
    calvados = client_for(gate_app, "calvados")
    before = snapshot(gate_app)
    for kind, key in (("operateur", "foreign_op"), ("operateur", "unused_op"),
                      ("convention", "foreign_conv"), ("structure", "paris")):
        assert calvados.get(f"/documents/{kind}/{park[key]}/").status_code == 404, key
        answer = upload(calvados, kind, park[key])
        body = answer.get_data(as_text=True)
        assert answer.status_code == 404, key
        assert "ne fait pas partie de votre périmètre" in body
        assert park["names"].get(key, "§") not in body
    for key in ("foreign_op", "foreign_conv", "paris"):
        answer = delete(calvados, park["docs"][key])
        assert answer.status_code == 404, key
        assert f"secret-{key}.pdf" not in answer.get_data(as_text=True)
    assert snapshot(gate_app) == before
    # its own structure's documents it does file
    assert upload(calvados, "structure", park["mine"], "calvados-ok.pdf").status_code == 302


def test_an_operateur_cannot_upload_to_a_convention_nor_to_another_operateurs_structure(gate_app, park):
    client = client_for(gate_app, "operateur")
    page = client.get(f"/documents/convention/{park['own_conv']}/")
    assert page.status_code == 200 and "Déposer un document" not in page.get_data(as_text=True)
    assert "Supprimer" not in page.get_data(as_text=True)
    before = snapshot(gate_app)
    for kind, owner, status in (("convention", park["own_conv"], 403), ("operateur", park["op"], 403),
                                ("structure", park["paris"], 404), ("convention", park["foreign_conv"], 404),
                                ("operateur", park["foreign_op"], 404)):
        answer = upload(client, kind, owner)
        assert answer.status_code == status, (kind, owner)
        body = answer.get_data(as_text=True)
        assert "droits" in body if status == 403 else "ne fait pas partie de votre périmètre" in body
    for key, status in (("own_conv", 403), ("op", 403), ("paris", 404), ("foreign_conv", 404)):
        assert delete(client, park["docs"][key]).status_code == status, key
    assert snapshot(gate_app) == before
    assert upload(client, "structure", park["own_structure"], "operateur-ok.pdf").status_code == 302


def test_the_gate_refuses_documents_outside_the_web_too(gate_app, park):
    from app.documents import delete_document, save_document
    from app.gate import WriteRefused
    from app.scope import scope_of
    from app.documents.storage import get_storage
    from models import BhasileUser, Document
    from models.enums import CategorieDocument

    before = snapshot(gate_app)
    with gate_app.test_request_context():
        s = _session()

        def scope(login):
            return scope_of(s.scalar(select(BhasileUser).where(BhasileUser.username == login)))

        for login, owner, status in (("calvados", {"operateur_id": park["foreign_op"]}, 404),
                                     ("calvados", {"operateur_id": park["unused_op"]}, 404),
                                     ("calvados", {"convention_id": park["foreign_conv"]}, 404),
                                     ("operateur", {"convention_id": park["own_conv"]}, 403),
                                     ("lecteur", {"structure_id": park["mine"]}, 403)):
            doc = Document(categorie=CategorieDocument.AUTRE, nom_original="x.pdf", taille=1,
                           mime_type="application/pdf", **owner)
            with pytest.raises(WriteRefused) as refused:
                save_document(s, get_storage(), doc, files.pdf(), scope(login))
            assert refused.value.status == status, (login, owner)
        for login, key, status in (("calvados", "foreign_op", 404), ("operateur", "own_conv", 403),
                                   ("lecteur", "mine", 403)):
            with pytest.raises(WriteRefused) as refused:
                delete_document(s, get_storage(), s.get(Document, park["docs"][key]), scope(login))
            assert refused.value.status == status, (login, key)
        s.rollback()
    assert snapshot(gate_app) == before


# --- a reader, CSRF, malformed requests ----------------------------------------------------

def test_a_reader_uploads_and_deletes_nothing(gate_app, park):
    lecteur = client_for(gate_app, "lecteur")
    before = snapshot(gate_app)
    assert upload(lecteur, "structure", park["mine"]).status_code == 403
    assert delete(lecteur, park["docs"]["mine"]).status_code == 403
    assert snapshot(gate_app) == before


def test_document_posts_without_their_token_are_refused(gate_app, park):
    calvados = client_for(gate_app, "calvados")
    calvados.environ_base.pop("HTTP_X_CSRFTOKEN")
    calvados.environ_base["HTTP_X_CSRFTOKEN"] = "faux"
    before = snapshot(gate_app)
    for answer in (upload(calvados, "structure", park["mine"], with_token=False),
                   upload(calvados, "structure", park["mine"], csrf_token="faux"),
                   delete(calvados, park["docs"]["mine"], with_token=False)):
        assert answer.status_code == 400
        assert "jeton de sécurité" in answer.get_data(as_text=True)
    assert snapshot(gate_app) == before


HUGE = "x" * 100_000


def test_malformed_document_requests_are_refused_in_french(gate_app, park):
    calvados = client_for(gate_app, "calvados")
    before = snapshot(gate_app)
    huge = "9" * 30
    for path in (f"/documents/garbage/{park['mine']}/upload", f"/documents/structure/{huge}/upload",
                 f"/documents/{huge}/delete", "/documents/structure/abc/upload", "/documents/-1/delete"):
        answer = calvados.post(path, data={"csrf_token": token(calvados)})
        assert answer.status_code == 404, path
        assert "Page introuvable" in answer.get_data(as_text=True)
    mine = park["mine"]
    for fields, message in (({"categorie": HUGE}, "N&#39;est pas un choix valide."),
                            ({"annee": "9" * 30}, "entre 1990 et 2100"),
                            ({"annee": "9" * 1000}, "dépasse les limites acceptées"),
                            ({"annee": "", "periode_debut": HUGE}, "N&#39;est pas une date valide."),
                            ({"parent_id": "abc"}, "ne peut pas être converti"),
                            ({"parent_id": str(park["docs"]["paris"])}, "N&#39;est pas un choix valide.")):
        answer = upload(calvados, "structure", mine, **fields)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 400, fields
        assert message in body, fields
        assert body.count(HUGE) <= 1 and "secret-paris.pdf" not in body  # the field gives back its own input
    answer = calvados.post(f"/documents/structure/{mine}/upload", data={"csrf_token": token(calvados)},
                           content_type="multipart/form-data")
    assert answer.status_code == 400 and "Choisissez un fichier." in answer.get_data(as_text=True)
    assert snapshot(gate_app) == before
