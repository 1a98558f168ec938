"""A grid save goes through the write gate: every way of writing outside one's territory or
rights is refused on its cell (or as a missing row), with a French message, nothing written,
and nothing of another territory in the answer."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import client_for
from tests.grid_helpers import (YEAR, leaks, outside_structure, query, row, rows, save, user_scope,
                                written)

MONTH = f"{YEAR - 1}-06"
PERIODS = {"structures": {}, "places": {"annee": YEAR}, "budgets": {"annee": YEAR},
           "activite": {"debut": MONTH, "fin": MONTH}, "adresses": {"annee": YEAR}}


def _outside_operateur(app, login: str) -> str:
    """An opérateur running structures, none of them in ``login``'s territory."""
    from app.scope import structure_condition
    from models import Operateur, Structure

    scope = user_scope(app, login)
    return query(app, lambda s: s.scalar(
        select(Operateur.nom).where(Operateur.id.in_(select(Structure.operateur_id)),
                                    Operateur.id.not_in(select(Structure.operateur_id).where(
                                        structure_condition(scope), Structure.operateur_id.is_not(None))))
        .order_by(Operateur.nom)))


@pytest.mark.parametrize("login", ["calvados", "normandie"])
def test_grid_refuses_handing_a_structure_to_an_operateur_of_another_region(app, login):
    client = client_for(app, login)
    other = _outside_operateur(app, "normandie")  # runs nothing in région 28 (nor in dépt 14)
    mine = rows(client, "structures")[0]
    before = written(app)
    response = save(client, "structures", [row(mine, operateur=other)], {})
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert [(e["k"], e["field"]) for e in errors] == [(mine["_k"], "operateur")]
    assert errors[0]["message"] == "L'opérateur est hors de votre périmètre."
    assert written(app) == before
    assert {r["_k"]: r for r in rows(client, "structures")}[mine["_k"]]["operateur"] == mine["operateur"]


@pytest.mark.parametrize("login,dep", [("calvados", "50"), ("calvados", "75"), ("normandie", "75")])
def test_grid_refuses_moving_a_structure_out_of_the_territory(app, login, dep):
    client = client_for(app, login)
    mine = rows(client, "structures")[0]
    before = written(app)
    response = save(client, "structures", [row(mine, departement=dep, code_postal=f"{dep}100")], {})
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert [e["field"] for e in errors] == ["departement"]
    assert "sortirait de votre périmètre" in errors[0]["message"]
    assert written(app) == before


def _outside_key(slug: str, other: dict) -> str:
    if slug == "adresses":
        return str(other["adresse_id"])
    if slug == "activite":
        return f"{other['id']}|{MONTH}"
    return str(other["id"])


OUTSIDE = [("structures", {"nom": "Renommée"}, False), ("places", {"pmr": "1"}, False),
           ("places", {"pmr": "1"}, True), ("budgets", {"etp": "1"}, False),
           ("budgets", {"etp": "1"}, True), ("activite", {"places_occupees": "1"}, False),
           ("adresses", {"commune": "Ailleurs"}, False), ("adresses", {"qpv": "oui"}, True)]


@pytest.mark.parametrize("slug,values,creation", OUTSIDE,
                         ids=[f"{s}-{'creation' if c else 'stored'}" for s, _v, c in OUTSIDE])
def test_grid_row_of_another_territory_is_not_found_and_nothing_is_written(app, slug, values, creation):
    client = client_for(app, "calvados")
    other = outside_structure(app, "calvados", adresse=True, places=True)
    period = dict(PERIODS[slug])
    if creation:
        period["annee"] = YEAR + 7  # no record yet: the save would create it
    mine = next(r for r in rows(client, slug, **period) if r["_v"] is not None or creation)
    key = _outside_key(slug, other)
    theirs = {"k": key, "v": other["version"], "pv": other["adresse_version"], "values": values}
    before = written(app)
    response = save(client, slug, [row(mine, **values), theirs], period)
    assert response.status_code == 404, response.get_json()
    body = response.get_json()
    assert body["rows"] == [key] and "hors de votre périmètre" in body["message"]
    assert written(app) == before
    assert leaks(response, other["code_dna"], other["nom"], other["adresse"]) == []


def test_grid_unknown_or_garbage_row_keys_are_not_found(app):
    client = client_for(app, "calvados")
    mine = rows(client, "places", annee=YEAR)[0]
    for key in ("999999999", "abc", "", "-1", "12|2024-13"):
        response = save(client, "places", [row(mine, pmr="1"), {"k": key, "v": 1, "values": {"pmr": "1"}}])
        assert response.status_code == 404 and response.get_json()["rows"] == [key]


STATE = [("budgets", "dotation_accordee", "1"), ("budgets", "reprise_etat", "1"),
         ("places", "places_autorisees", "999"), ("places", "places_a_creer", "3"),
         ("places", "places_a_fermer", "2"), ("places", "echeance_places_a_creer", "01/01/2031"),
         ("places", "echeance_places_a_fermer", "01/01/2031"),
         ("activite", "places_autorisees", "999"), ("adresses", "places_autorisees", "99")]


@pytest.mark.parametrize("slug,field,value", STATE, ids=[f"{s}-{f}" for s, f, _v in STATE])
def test_grid_operateur_never_changes_the_states_decisions(app, slug, field, value):
    client = client_for(app, "operateur")
    period = PERIODS[slug]
    mine = next(r for r in rows(client, slug, **period) if r["_v"] is not None)
    before = written(app)
    response = save(client, slug, [row(mine, **{field: value})], period)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert [(e["k"], e["field"]) for e in errors] == [(mine["_k"], field)]
    assert "réservé aux services de l'État" in errors[0]["message"]
    assert written(app) == before
    columns = {c["field"]: c for c in _config(client, slug, **period)["columns"]}
    assert not columns[field]["editable"]


def test_grid_operateur_does_not_set_the_states_decisions_on_a_new_year(app):
    client = client_for(app, "operateur")
    period = {"annee": YEAR + 7}
    mine = rows(client, "places", **period)[0]
    assert mine["_v"] is None
    before = written(app)
    response = save(client, "places", [row(mine, places_autorisees="10", pmr="1")], period)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["places_autorisees"]
    assert written(app) == before


def _config(client, slug: str, **params) -> dict:
    import json
    import re

    page = client.get(f"/grille/{slug}/", query_string=params).get_data(as_text=True)
    return json.loads(re.search(r'id="bh-grid-config">(.*?)</script>', page, re.S).group(1))


def test_grid_operateur_fills_the_addresses_of_its_own_structures(fresh_app):
    client = client_for(fresh_app, "operateur")
    config = _config(client, "adresses", annee=YEAR)
    columns = {c["field"]: c for c in config["columns"]}
    assert config["canWrite"] and columns["commune"]["editable"] and columns["qpv"]["editable"]
    assert not columns["places_autorisees"]["editable"] and not columns["code_dna"]["editable"]
    mine = next(r for r in rows(client, "adresses", annee=YEAR) if r["_v"] is not None)
    response = save(client, "adresses", [row(mine, commune="Lisieux", qpv="oui")])
    assert response.status_code == 200, response.get_json()
    again = {r["_k"]: r for r in rows(client, "adresses", annee=YEAR)}[mine["_k"]]
    assert (again["commune"], again["qpv"]) == ("Lisieux", "Oui")
    refused = save(client, "adresses", [row(again, places_autorisees="99")])
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["places_autorisees"]
    other = outside_structure(fresh_app, "operateur", adresse=True)
    before = written(fresh_app)
    stray = save(client, "adresses", [{"k": str(other["adresse_id"]), "v": None,
                                       "pv": other["adresse_version"], "values": {"commune": "X"}}])
    assert stray.status_code == 404 and leaks(stray, other["code_dna"], other["adresse"]) == []
    assert written(fresh_app) == before


VERSIONS = {
    "v-absent": ("places", lambda r: r.pop("v"), 428),
    "v-null-on-a-stored-row": ("places", lambda r: r.update(v=None), 428),
    "v-text": ("places", lambda r: r.update(v="abc"), 428),
    "v-empty": ("places", lambda r: r.update(v=""), 428),
    "v-decimal": ("places", lambda r: r.update(v="1.5"), 428),
    "v-boolean": ("places", lambda r: r.update(v=True), 428),
    "v-negative": ("places", lambda r: r.update(v=-1), 409),
    "v-object": ("places", lambda r: r.update(v={"v": 1}), 428),
    "v-stale-ahead": ("places", lambda r: r.update(v=r["v"] + 1), 409),
    "v-stale-behind": ("budgets", lambda r: r.update(v=r["v"] - 1), 409),
    "v-structure-stale": ("structures", lambda r: r.update(v=r["v"] + 5), 409),
    "pv-absent": ("adresses", lambda r: r.pop("pv"), 428),
    "pv-text": ("adresses", lambda r: r.update(pv="x"), 428),
    "pv-stale": ("adresses", lambda r: r.update(pv=r["pv"] + 1), 409),
    "v-on-a-row-without-record": ("places-new", lambda r: r.update(v=3), 409),
}


@pytest.mark.parametrize("case", list(VERSIONS))
def test_grid_refuses_missing_garbage_or_stale_versions(app, case):
    slug, spoil, status = VERSIONS[case]
    client = client_for(app, "calvados")
    period = dict(PERIODS[slug.removesuffix("-new")])
    if slug == "places-new":
        slug, period = "places", {"annee": YEAR + 7}
    new = period.get("annee") == YEAR + 7
    loaded = next(r for r in rows(client, slug, **period) if (r["_v"] is None) == new)
    field = {"structures": "nom", "adresses": "commune"}.get(slug, "pmr")
    sent = row(loaded, **{field: "1"})
    spoil(sent)
    before = written(app)
    response = save(client, slug, [sent], period)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert [{"k": c["k"], "row": c["row"]} for c in body["conflicts"]] == \
        [{"k": loaded["_k"], "row": body["conflicts"][0]["row"]}]
    # a stale row names its cells in conflict with the values stored now (its own, in scope)
    assert all(set(c["fields"]) <= {field} for c in body["conflicts"])
    assert "Rien n'a été enregistré" in body["message"] and body["errors"][0]["message"]
    assert written(app) == before


BODIES = [None, "rows", {"rows": "x"}, {"rows": [{"k": 1, "values": {}}]},
          {"rows": [{"k": "1", "values": []}]}, {"rows": [{"values": {}}]},
          {"period": "x", "rows": [{"k": "1", "v": 1, "values": {}}, {"k": "1", "v": 1, "values": {}}]}]


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_grid_malformed_body_is_refused_in_french(app, body):
    client = client_for(app, "calvados")
    before = written(app)
    response = client.post("/grille/places/enregistrer", json=body)
    assert response.status_code == 400
    assert "illisible" in response.get_json()["message"]
    assert written(app) == before


def test_grid_cells_of_any_json_type_are_cell_errors(app):
    client = client_for(app, "calvados")
    mine = next(r for r in rows(client, "places", annee=YEAR) if r["_v"] is not None)
    before = written(app)
    response = save(client, "places", [row(mine, pmr=["1"], lgbt={"n": 1}, fvv_teh=True,
                                            inconnue="1", code_dna="X")])
    assert response.status_code == 422, response.get_json()
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"pmr", "lgbt", "inconnue", "code_dna"} <= fields
    assert written(app) == before
