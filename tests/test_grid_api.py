"""Grid batch save as an agent lives it: success, cell errors, conflicts, scope, State fields, undo."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.conftest import client_for

YEAR = dt.date.today().year


@pytest.fixture()
def calvados(fresh_app):
    return client_for(fresh_app, "calvados")


def _rows(client, slug: str, **params) -> list[dict]:
    params.setdefault("size", 1000)
    response = client.get(f"/grille/{slug}/donnees", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return [dict(zip(body["fields"], values)) for values in body["rows"]]


def _save(client, slug: str, rows: list[dict], period: dict | None = None):
    return client.post(f"/grille/{slug}/enregistrer", json={"period": period or {"annee": YEAR}, "rows": rows})


def _row(row: dict, **values) -> dict:
    return {"k": row["_k"], "v": row["_v"], "pv": row.get("_pv"), "values": values}


def _places(app, code: str, year: int = YEAR):
    with app.app_context():
        from app.extensions import db
        from models import PlacesAnnee, Structure

        return db.session.scalar(select(PlacesAnnee).join(Structure).where(
            Structure.code_dna == code, PlacesAnnee.annee == year))


def _with_places(client) -> list[dict]:
    return [r for r in _rows(client, "places", annee=YEAR) if r["places_autorisees"] is not None]


def test_rows_are_the_users_scope_only(fresh_app, calvados):
    rows = _rows(calvados, "structures")
    with fresh_app.app_context():
        from app.extensions import db
        from models import Departement, Structure

        expected = db.session.scalar(select(func.count()).select_from(Structure).join(Departement)
                                     .where(Departement.code == "14"))
    assert len(rows) == expected > 0
    assert {r["departement"] for r in rows} == {"14"}


def test_save_writes_cells_and_one_history_entry(fresh_app, calvados):
    first, second = _with_places(calvados)[:2]
    pmr = "1" if first["pmr"] != 1 else "2"
    response = _save(calvados, "places", [_row(first, places_autorisees="123", pmr=pmr),
                                          _row(second, places_autorisees="1 234")])
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["save_id"] and f"grid save {body['save_id']}" in body["message"]
    assert _places(fresh_app, first["code_dna"]).places_autorisees == 123
    assert _places(fresh_app, second["code_dna"]).places_autorisees == 1234
    with fresh_app.app_context():
        from app.extensions import db
        from models import Changement

        history = db.session.execute(select(Changement.origin, Changement.username, Changement.field)
                                     .where(Changement.batch_id == body["save_id"],
                                            Changement.origin == "grid")).all()
    assert {h.field for h in history} == {"places_autorisees", "pmr"}
    assert {h.username for h in history} == {"calvados"}
    again = {r["_k"]: r for r in _with_places(calvados)}[first["_k"]]
    assert again["places_autorisees"] == 123 and again["_v"] == first["_v"] + 1


def test_invalid_cells_are_refused_with_french_messages_and_nothing_written(fresh_app, calvados):
    first, second = _with_places(calvados)[:2]
    before = _places(fresh_app, second["code_dna"]).places_autorisees
    response = _save(calvados, "places", [_row(first, places_autorisees="beaucoup"),
                                          _row(second, places_autorisees="10", pmr="50")])
    assert response.status_code == 422
    errors = {(e["k"], e["field"]): e["message"] for e in response.get_json()["errors"]}
    assert "n'est pas un nombre" in errors[(first["_k"], "places_autorisees")]
    assert "dépassent les places autorisées" in errors[(second["_k"], "pmr")]
    assert _places(fresh_app, second["code_dna"]).places_autorisees == before


def test_a_row_changed_since_loaded_is_a_conflict_naming_it(fresh_app, calvados):
    first = _with_places(calvados)[0]
    other = client_for(fresh_app, "normandie")
    assert _save(other, "places", [_row(first, places_autorisees="77")]).status_code == 200
    response = _save(calvados, "places", [_row(first, places_autorisees="78")])
    assert response.status_code == 409
    body = response.get_json()
    assert first["code_dna"] in body["message"] and body["conflicts"][0]["k"] == first["_k"]
    assert _places(fresh_app, first["code_dna"]).places_autorisees == 77


def test_rows_outside_the_scope_are_not_found(fresh_app, calvados):
    outside = next(r for r in _rows(client_for(fresh_app, "centrale"), "places", annee=YEAR)
                   if r["places_autorisees"] is not None and not r["code_dna"].startswith("14"))
    mine = _with_places(calvados)[0]
    with fresh_app.app_context():
        from app.extensions import db
        from models import Departement, Structure

        dep = db.session.scalar(select(Departement.code).join(Structure).where(Structure.code_dna == outside["code_dna"]))
    assert dep != "14"
    response = _save(calvados, "places", [_row(mine, places_autorisees="5"), _row(outside, places_autorisees="5")])
    assert response.status_code == 404
    assert response.get_json()["rows"] == [outside["_k"]]
    assert _places(fresh_app, mine["code_dna"]).places_autorisees == mine["places_autorisees"]


def test_state_fields_and_read_only_roles(fresh_app):
    operateur = client_for(fresh_app, "operateur")
    budget = next(r for r in _rows(operateur, "budgets", annee=YEAR) if r["_v"] is not None)
    response = _save(operateur, "budgets", [_row(budget, dotation_accordee="1", etp="3,5")])
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert [e["field"] for e in errors] == ["dotation_accordee"]
    assert "réservé aux services de l'État" in errors[0]["message"]
    assert _save(operateur, "budgets", [_row(budget, etp="3,5")]).status_code == 200
    columns = {c["field"]: c for c in _config(operateur, "budgets")["columns"]}
    assert not columns["dotation_accordee"]["editable"] and columns["etp"]["editable"]
    structure = _rows(operateur, "structures")[0]
    refused = _save(operateur, "structures", [_row(structure, nom="Autre nom")], {})
    assert refused.status_code == 403 and "rôle" in refused.get_json()["message"]
    lecteur = client_for(fresh_app, "lecteur")
    row = _rows(lecteur, "places", annee=YEAR)[0]
    assert _save(lecteur, "places", [_row(row, places_autorisees="1")]).status_code == 403
    assert not any(c["editable"] for c in _config(lecteur, "places")["columns"])


def _config(client, slug: str) -> dict:
    import json
    import re

    page = client.get(f"/grille/{slug}/").get_data(as_text=True)
    return json.loads(re.search(r'id="bh-grid-config">(.*?)</script>', page, re.S).group(1))


def test_undo_restores_the_last_save(fresh_app, calvados):
    first = _with_places(calvados)[0]
    body = _save(calvados, "places", [_row(first, places_autorisees="999")]).get_json()
    undone = calvados.post("/grille/places/annuler", json={})
    assert undone.status_code == 200, undone.get_json()
    assert f"grid save {body['save_id']}" in undone.get_json()["message"]
    assert _places(fresh_app, first["code_dna"]).places_autorisees == first["places_autorisees"]
    assert calvados.post("/grille/places/annuler", json={}).status_code == 404


def test_undo_is_refused_when_someone_changed_the_rows_since(fresh_app, calvados):
    first = _with_places(calvados)[0]
    assert _save(calvados, "places", [_row(first, places_autorisees="50")]).status_code == 200
    fresh = {r["_k"]: r for r in _with_places(calvados)}[first["_k"]]
    other = client_for(fresh_app, "normandie")
    assert _save(other, "places", [_row(fresh, pmr="1")]).status_code == 200
    response = calvados.post("/grille/places/annuler", json={})
    assert response.status_code == 409 and "modifiées depuis" in response.get_json()["message"]
    assert _places(fresh_app, first["code_dna"]).places_autorisees == 50


def test_a_year_without_record_is_created_then_undone(fresh_app, calvados):
    year = YEAR + 3
    row = _rows(calvados, "places", annee=year)[0]
    assert row["_v"] is None and row["places_autorisees"] is None
    response = _save(calvados, "places", [_row(row, places_autorisees="12")], {"annee": year})
    assert response.status_code == 200, response.get_json()
    assert _places(fresh_app, row["code_dna"], year).places_autorisees == 12
    assert calvados.post("/grille/places/annuler", json={}).status_code == 200
    assert _places(fresh_app, row["code_dna"], year) is None


def test_save_without_csrf_token_is_refused(fresh_app, calvados):
    first = _with_places(calvados)[0]
    calvados.environ_base.pop("HTTP_X_CSRFTOKEN")
    response = _save(calvados, "places", [_row(first, places_autorisees="3")])
    assert response.status_code in (400, 403)
    assert _places(fresh_app, first["code_dna"]).places_autorisees == first["places_autorisees"]
