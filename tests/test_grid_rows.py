"""The grid's new server paths (issue #17) attacked: value filters and search, adding and
deleting rows, and the per-cell answer of a stale save. Every refusal is French, writes
nothing, shows nothing of another territory and is never a 500; every mutation needs CSRF."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.conftest import client_for
from tests.grid_helpers import YEAR, leaks, outside_structure, query, row, rows, save, written

GRIDS = ("structures", "places", "budgets", "activite", "adresses")


def _text(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


def _count(app, model) -> int:
    return query(app, lambda s: s.scalar(select(func.count()).select_from(model)))


def _add(client, slug: str, period: dict | None = None, **values):
    return client.post(f"/grille/{slug}/ajouter", json={"period": period or {"annee": YEAR}, "values": values})


def _delete(client, slug: str, sent: list[dict], period: dict | None = None):
    return client.post(f"/grille/{slug}/supprimer", json={"period": period or {"annee": YEAR}, "rows": sent})


# --- value filters, search -------------------------------------------------------------------
def test_values_list_counts_of_the_scope_only(app):
    client = client_for(app, "calvados")
    other = outside_structure(app, "calvados")
    response = client.get("/grille/structures/valeurs", query_string={"field": "code_dna"})
    assert response.status_code == 200
    body = response.get_json()
    mine = rows(client, "structures")
    assert sum(v["count"] for v in body["values"]) == len(mine)
    assert not leaks(response, other["code_dna"], other["nom"])
    types = client.get("/grille/structures/valeurs", query_string={"field": "type"}).get_json()["values"]
    first = types[0]
    shown = rows(client, "structures", valeurs=json.dumps({"type": [first["value"]]}))
    assert len(shown) == first["count"] and {r["type"] for r in shown} == {first["value"]}
    blank = rows(client, "structures", valeurs=json.dumps({"type": []}))
    assert blank == []


@pytest.mark.parametrize("params", [{"field": "nope"}, {"field": ""}, {"field": "code_dna", "valeurs": "{"},
                                    {"field": "code_dna", "valeurs": "[1, 2]"},
                                    {"field": "places_autorisees", "valeurs": '{"places_autorisees": ["abc", null]}'}])
def test_values_and_data_never_fail_on_odd_parameters(app, params):
    client = client_for(app, "calvados")
    response = client.get("/grille/places/valeurs", query_string=params)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "Colonne inconnue" in response.get_json()["message"]
    data = client.get("/grille/places/donnees", query_string={**params, "annee": YEAR})
    assert data.status_code == 200


def test_search_finds_in_scope_only(app):
    client = client_for(app, "calvados")
    other = outside_structure(app, "calvados")
    assert rows(client, "structures", q=other["code_dna"]) == []
    mine = rows(client, "structures")[0]
    found = rows(client, "structures", q=mine["code_dna"].lower())
    assert mine["_k"] in {r["_k"] for r in found}


# --- adding rows -----------------------------------------------------------------------------
def test_add_a_structure_checks_required_cells_then_writes_through_the_gate(fresh_app):
    from models import Structure

    client = client_for(fresh_app, "calvados")
    before = _count(fresh_app, Structure)
    response = _add(client, "structures", {}, code_dna="C1498", nom="Essai")
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"type", "departement"} <= fields
    assert _count(fresh_app, Structure) == before
    kind = client.get("/grille/structures/valeurs", query_string={"field": "type"}).get_json()["values"][0]["value"]
    response = _add(client, "structures", {}, code_dna="C1498", nom="Essai", type=kind, departement="14")
    assert response.status_code == 200, response.get_json()
    assert _count(fresh_app, Structure) == before + 1
    again = _add(client, "structures", {}, code_dna="C1498", nom="Essai", type=kind, departement="14")
    assert again.status_code == 422 and "déjà utilisé" in _text(again)


@pytest.mark.parametrize("login,dep", [("calvados", "75"), ("calvados", "50"), ("normandie", "75")])
def test_add_a_structure_outside_the_territory_is_refused(fresh_app, login, dep):
    from models import Structure

    client = client_for(fresh_app, login)
    kind = client.get("/grille/structures/valeurs", query_string={"field": "type"}).get_json()["values"][0]["value"]
    before = written(fresh_app), _count(fresh_app, Structure)
    response = _add(client, "structures", {}, code_dna="C7598", type=kind, departement=dep)
    assert response.status_code == 422, response.get_json()
    assert "périmètre" in _text(response)
    assert (written(fresh_app), _count(fresh_app, Structure)) == before


def test_an_operateur_may_not_set_the_states_fields_of_a_new_structure(fresh_app):
    from models import Structure

    client = client_for(fresh_app, "operateur")
    before = _count(fresh_app, Structure)
    response = _add(client, "structures", {}, code_dna="C1497", type="CADA", departement="14")
    assert response.status_code in (403, 422)
    assert response.get_json()["ok"] is False
    assert _count(fresh_app, Structure) == before


def test_add_an_address_of_another_territorys_structure_is_refused(fresh_app):
    from models import Adresse

    client = client_for(fresh_app, "calvados")
    other = outside_structure(fresh_app, "calvados")
    repartition = client.get("/grille/adresses/valeurs", query_string={"field": "repartition", "annee": YEAR}) \
        .get_json()["values"][0]["value"]
    before = _count(fresh_app, Adresse)
    response = _add(client, "adresses", code_dna=other["code_dna"], adresse="1 rue X", repartition=repartition)
    assert response.status_code == 422 and "périmètre" in _text(response)
    assert not leaks(response, other["nom"])
    assert _count(fresh_app, Adresse) == before
    mine = rows(client, "adresses", annee=YEAR)[0]
    response = _add(client, "adresses", code_dna=mine["code_dna"], adresse="1 rue de l'Essai", repartition=repartition)
    assert response.status_code == 200, response.get_json()
    assert _count(fresh_app, Adresse) == before + 1


def test_add_a_year_record_once(fresh_app):
    from models import PlacesAnnee

    client = client_for(fresh_app, "calvados")
    year = YEAR + 3
    mine = rows(client, "places", annee=year)[0]
    before = _count(fresh_app, PlacesAnnee)
    response = _add(client, "places", {"annee": year}, code_dna=mine["code_dna"])
    assert response.status_code == 200, response.get_json()
    assert _count(fresh_app, PlacesAnnee) == before + 1
    assert _add(client, "places", {"annee": year}, code_dna=mine["code_dna"]).status_code == 422
    other = outside_structure(fresh_app, "calvados")
    response = _add(client, "places", {"annee": year}, code_dna=other["code_dna"])
    assert response.status_code == 422 and not leaks(response, other["nom"])
    assert _count(fresh_app, PlacesAnnee) == before + 1


@pytest.mark.parametrize("slug", GRIDS)
@pytest.mark.parametrize("body", ["nope", '{"values": [1]}', '{"values": {"code_dna": {"x": 1}}}', "[]"])
def test_add_malformed_is_french_and_never_500(fresh_app, slug, body):
    client = client_for(fresh_app, "calvados")
    before = written(fresh_app)
    response = client.post(f"/grille/{slug}/ajouter", data=body, content_type="application/json")
    assert response.status_code in (400, 422), _text(response)
    assert response.get_json()["ok"] is False and response.get_json()["message"]
    assert written(fresh_app) == before


def test_reader_may_neither_add_nor_delete(fresh_app):
    client = client_for(fresh_app, "lecteur")
    assert _add(client, "structures", {}, code_dna="C1496").status_code == 403
    assert _delete(client, "structures", [{"k": "1", "v": 1}], {}).status_code == 403


# --- deleting rows ---------------------------------------------------------------------------
def test_delete_a_year_record_needs_its_version(fresh_app):
    from models import PlacesAnnee

    client = client_for(fresh_app, "calvados")
    mine = [r for r in rows(client, "places", annee=YEAR) if r["_v"] is not None][0]
    before = _count(fresh_app, PlacesAnnee)
    assert _delete(client, "places", [{"k": mine["_k"]}]).status_code == 428
    assert _delete(client, "places", [{"k": mine["_k"], "v": mine["_v"] + 5}]).status_code == 409
    assert _count(fresh_app, PlacesAnnee) == before
    response = _delete(client, "places", [{"k": mine["_k"], "v": mine["_v"]}])
    assert response.status_code == 200, response.get_json()
    assert _count(fresh_app, PlacesAnnee) == before - 1
    assert _delete(client, "places", [{"k": mine["_k"], "v": mine["_v"]}]).status_code == 422  # nothing left


def test_delete_another_territorys_row_is_404_and_says_nothing(fresh_app):
    from models import Adresse, Structure

    client = client_for(fresh_app, "calvados")
    other = outside_structure(fresh_app, "calvados", adresse=True)
    before = _count(fresh_app, Structure), _count(fresh_app, Adresse)
    for slug, key, version in [("structures", other["id"], other["version"]),
                               ("adresses", other["adresse_id"], other["adresse_version"])]:
        mine = rows(client, slug, annee=YEAR)[0]
        response = _delete(client, slug, [{"k": mine["_k"], "v": mine["_v"], "pv": mine.get("_pv")},
                                          {"k": str(key), "v": version, "pv": version}])
        assert response.status_code == 404
        assert not leaks(response, other["code_dna"], other["nom"], other["adresse"])
    assert (_count(fresh_app, Structure), _count(fresh_app, Adresse)) == before


@pytest.mark.parametrize("body", ["nope", "{}", '{"rows": []}', '{"rows": [{"k": 3}]}', '{"rows": "x"}'])
def test_delete_malformed_is_french_and_never_500(fresh_app, body):
    client = client_for(fresh_app, "calvados")
    response = client.post("/grille/places/supprimer", data=body, content_type="application/json")
    assert response.status_code == 400 and "illisible" in response.get_json()["message"]


def test_add_and_delete_need_the_csrf_token(fresh_app):
    from models import PlacesAnnee

    client = client_for(fresh_app, "calvados")
    mine = [r for r in rows(client, "places", annee=YEAR) if r["_v"] is not None][0]
    client.environ_base.pop("HTTP_X_CSRFTOKEN")
    before = _count(fresh_app, PlacesAnnee)
    assert _delete(client, "places", [{"k": mine["_k"], "v": mine["_v"]}]).status_code in (400, 403)
    assert _add(client, "places", {"annee": YEAR + 4}, code_dna=mine["code_dna"]).status_code in (400, 403)
    assert _count(fresh_app, PlacesAnnee) == before


# --- a stale save: the conflicting cells, with the values stored now --------------------------
def test_a_stale_save_answers_the_conflicting_cells_and_their_current_values(fresh_app):
    calvados, normandie = client_for(fresh_app, "calvados"), client_for(fresh_app, "normandie")
    loaded = [r for r in rows(calvados, "budgets", annee=YEAR) if r["_v"] is not None][0]
    first = save(normandie, "budgets", [row(loaded, total_produits="555")])
    assert first.status_code == 200, first.get_json()
    before = written(fresh_app)
    response = save(calvados, "budgets", [row(loaded, total_produits="777", total_charges="888")])
    assert response.status_code == 409
    body = response.get_json()
    (conflict,) = body["conflicts"]
    assert conflict["k"] == loaded["_k"] and conflict["v"] == loaded["_v"] + 1
    assert set(conflict["fields"]) == {"total_produits"}  # total_charges was not changed by anyone
    assert conflict["fields"]["total_produits"]["theirs"] == 555
    assert conflict["fields"]["total_produits"]["by"] == "normandie"
    assert written(fresh_app) == before
    # saving again at the current version keeps the chosen cell and the rest of the row
    again = save(calvados, "budgets", [{"k": loaded["_k"], "v": conflict["v"], "values":
                                        {"total_produits": "777", "total_charges": "888"}}])
    assert again.status_code == 200, again.get_json()


def test_a_stale_save_tells_nothing_of_another_territory(fresh_app):
    calvados = client_for(fresh_app, "calvados")
    other = outside_structure(fresh_app, "calvados")
    mine = rows(calvados, "structures")[0]
    response = save(calvados, "structures", [row(mine, nom="X"), {"k": str(other["id"]), "v": 0,
                                                                 "values": {"nom": "Y"}}], {})
    assert response.status_code == 404
    assert not leaks(response, other["code_dna"], other["nom"])
    assert "conflicts" not in response.get_json()
