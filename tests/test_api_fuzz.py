"""The REST API fuzzed from its own OpenAPI document (short run; the long one is
benchmarks/schemathesis_run.py): no input, valid or not, makes the server fail (5xx)."""
from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")

from benchmarks.schemathesis_run import fuzz  # noqa: E402
from tests.conftest import client_for  # noqa: E402


def test_no_api_input_causes_a_server_error(fresh_app):
    report = fuzz(fresh_app, client_for(fresh_app, "admin"), examples=2)
    assert report["operations"] >= 5
    assert report["statuses"].get(200, 0) > 0  # signed in: the API answered, not only 401s
    assert report["failures"] == []


def test_a_reference_to_a_missing_record_is_refused_not_created(fresh_app):
    client = client_for(fresh_app, "admin")
    response = client.post("/api/v1/structure/", json={
        "code_dna": "Z999", "nom": "Fantôme", "type": "CADA", "departement": 987654,
        "operateur": {"id": 987654, "nom": "Opérateur inventé"}})
    assert response.status_code in (400, 422)
    assert "n'existe pas" in response.get_data(as_text=True) or "invalide" in \
        response.get_data(as_text=True)
    with fresh_app.app_context():
        from app.extensions import db
        from models import Departement, Operateur

        assert db.session.get(Departement, 987654) is None
        assert db.session.get(Operateur, 987654) is None
        db.session.remove()


def test_an_impossible_identifier_is_not_found(app):
    client = client_for(app, "admin")
    for path in ("/api/v1/structure/13301439582487086685923311616",
                 "/structureview/show/-77522406084697412075520"):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.delete("/api/v1/structure/13301439582487086685923311616").status_code == 404


def test_a_malformed_query_argument_is_a_400(app):
    client = client_for(app, "admin")
    response = client.get("/api/v1/structure/?q=(page_size:5.657123588005911e)")
    assert response.status_code == 400
    assert "illisible" in response.get_json()["message"]


def test_ids_beyond_a_postgresql_integer_answer_404(app, login):
    """Found by schemathesis on PostgreSQL: an id over 2**31 crashed the INTEGER comparison."""
    client = login("centrale")
    for path in ("/api/v1/structure/3740830979978877", "/api/v1/places/4503599627370496",
                 "/api/v1/convention/2147483648"):
        assert client.get(path).status_code == 404
    assert client.get("/api/v1/operateur/-761054400033111").status_code < 500
