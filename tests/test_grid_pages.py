"""Grid pages: config from the sheet schema, paging/filters/sort on the server, the column
chooser kept per user, the Excel export of the current view, and saves on every sheet."""
from __future__ import annotations

import datetime as dt
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import client_for

YEAR = dt.date.today().year
SLUGS = ("structures", "places", "budgets", "activite", "adresses")


def _config(client, slug: str, **params) -> dict:
    page = client.get(f"/grille/{slug}/", query_string=params)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>" not in html.replace(" ", "")  # configuration as JSON data, never inline code
    return json.loads(re.search(r'id="bh-grid-config">(.*?)</script>', html, re.S).group(1))


def _page(client, slug: str, **params) -> dict:
    response = client.get(f"/grille/{slug}/donnees", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    body["data"] = [dict(zip(body["fields"], values)) for values in body["rows"]]
    return body


@pytest.mark.parametrize("slug", SLUGS)
def test_each_grid_page_is_driven_by_its_sheet(login, slug):
    config = _config(login("calvados"), slug)
    labels = [c["label"] for c in config["columns"]]
    assert "Code DNA" in labels[:2]
    assert any(c["key"] for c in config["columns"]) and config["canWrite"]
    assert config["urls"]["save"] == f"/grille/{slug}/enregistrer"


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("username", ["normandie", "operateur"])
def test_the_rows_a_grid_announces_are_the_rows_it_lists(login, slug, username):
    """The count under the grid (“n ligne(s)”) is its rows in the user's scope, with or without
    a search."""
    client = login(username)
    period = {"annee": YEAR} if slug in ("places", "budgets", "adresses") else {}
    for search in ({}, {"q": "a"}):
        pages, listed, number = None, 0, 1
        while pages is None or number <= pages:
            page = _page(client, slug, size=1000, page=number, **period, **search)
            pages, listed, number = page["last_page"], listed + len(page["data"]), number + 1
        assert page["last_row"] == listed > 0


@pytest.mark.parametrize("search", [{}, {"q": "a"}])
def test_a_page_past_the_end_shows_the_last_page(login, search):
    """Rows deleted since the pager was drawn: asking for a page beyond the end gives the last."""
    client = login("calvados")
    everything = _page(client, "activite", size=1000, **search)["data"]
    past = _page(client, "activite", size=5, page=999, **search)
    assert past["page"] == past["last_page"] == -(-len(everything) // 5) > 1
    assert [r["_k"] for r in past["data"]] == [r["_k"] for r in everything[(past["page"] - 1) * 5:]]


def test_places_show_last_year_beside_read_only(login):
    config = _config(login("calvados"), "places", annee=YEAR)
    fields = [c["field"] for c in config["columns"]]
    assert fields.index("places_autorisees__n1") == fields.index("places_autorisees") + 1
    prev = next(c for c in config["columns"] if c["field"] == "places_autorisees__n1")
    assert prev["label"] == "Places autorisées N−1" and not prev["editable"]
    assert config["period"] == {"annee": YEAR}


def test_paging_filters_and_sort_run_on_the_server(login):
    client = login("normandie")
    everything = _page(client, "structures", size=1000)
    assert everything["last_row"] == len(everything["data"]) > 10
    paged = _page(client, "structures", size=5, page=2)
    assert len(paged["data"]) == 5 and paged["last_page"] == -(-everything["last_row"] // 5)
    assert [r["_k"] for r in paged["data"]] == [r["_k"] for r in everything["data"][5:10]]
    calvados = _page(client, "structures", size=1000, **{"filter[0][field]": "departement",
                                                          "filter[0][value]": "14"})
    assert 0 < calvados["last_row"] < everything["last_row"]
    assert {r["departement"] for r in calvados["data"]} == {"14"}
    by_name = _page(client, "structures", size=1000, **{"sort[0][field]": "nom", "sort[0][dir]": "desc"})
    names = [r["nom"] for r in by_name["data"]]
    assert names[0] >= names[-1]
    cada = _page(client, "structures", size=1000, **{"filter[0][field]": "type", "filter[0][value]": "CADA"})
    assert {r["type"] for r in cada["data"]} == {"CADA"}


def test_activite_covers_a_range_of_months(login):
    client = login("calvados")
    one = _page(client, "activite", debut="2025-01", fin="2025-01", size=1000)
    three = _page(client, "activite", debut="2025-01", fin="2025-03", size=1000)
    assert three["last_row"] == 3 * one["last_row"]
    assert {r["mois"] for r in three["data"]} == {"01/2025", "02/2025", "03/2025"}


def test_hidden_columns_are_kept_per_user(app):
    client = client_for(app, "calvados")
    response = client.post("/grille/budgets/colonnes", json={"hidden": ["commentaire", "etp__n1", "inconnue"]})
    assert response.status_code == 200
    assert _config(client, "budgets")["hidden"] == ["commentaire", "etp__n1"]
    assert _config(client_for(app, "normandie"), "budgets")["hidden"] == []
    client.post("/grille/budgets/colonnes", json={"hidden": []})


def test_export_writes_the_current_view(app):
    client = client_for(app, "calvados")
    client.post("/grille/structures/colonnes", json={"hidden": ["notes", "latitude", "longitude"]})
    response = client.get("/grille/structures/export", query_string={
        "filter[0][field]": "type", "filter[0][value]": "CADA", "sort[0][field]": "nom", "sort[0][dir]": "asc"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[0] == "Code DNA" and "Notes" not in header and "Latitude" not in header
    types = {row[header.index("Type")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    names = [row[header.index("Nom")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert types == {"CADA"} and names == sorted(names)
    client.post("/grille/structures/colonnes", json={"hidden": []})


def test_structures_save_reads_references_and_keeps_formulas_as_text(fresh_app):
    client = client_for(fresh_app, "calvados")
    row = _page(client, "structures", size=1)["data"][0]
    response = client.post("/grille/structures/enregistrer", json={"period": {}, "rows": [
        {"k": row["_k"], "v": row["_v"], "values": {"notes": "=1+1", "code_postal": "14000",
                                                    "date_303": "15/03/24"}}]})
    assert response.status_code == 200, response.get_json()
    again = _page(client, "structures", size=1)["data"][0]
    assert again["notes"] == "=1+1" and again["date_303"] == "15/03/2024"
    outside = client.post("/grille/structures/enregistrer", json={"period": {}, "rows": [
        {"k": row["_k"], "v": again["_v"], "values": {"departement": "75"}}]})
    assert outside.status_code == 422
    assert any(e["field"] == "departement" and "de votre périmètre" in e["message"]
               for e in outside.get_json()["errors"])
    export = client.get("/grille/structures/export")
    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    notes = [r[header.index("Notes")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert "=1+1" in notes  # written as text, never as a formula


def test_adresses_save_parent_and_year_cells(fresh_app):
    client = client_for(fresh_app, "calvados")
    row = next(r for r in _page(client, "adresses", annee=YEAR, size=1000)["data"] if r["_v"] is not None)
    response = client.post("/grille/adresses/enregistrer", json={"period": {"annee": YEAR}, "rows": [
        {"k": row["_k"], "v": row["_v"], "pv": row["_pv"],
         "values": {"commune": "Bayeux", "places_autorisees": "7", "qpv": "oui"}}]})
    assert response.status_code == 200, response.get_json()
    again = {r["_k"]: r for r in _page(client, "adresses", annee=YEAR, size=1000)["data"]}[row["_k"]]
    assert (again["commune"], again["places_autorisees"], again["qpv"]) == ("Bayeux", 7, "Oui")
    assert again["_pv"] == row["_pv"] + 1
    with fresh_app.app_context():
        from app.extensions import db
        from models import Changement

        origins = set(db.session.scalars(select(Changement.entity).where(
            Changement.origin == "grid", Changement.batch_id == response.get_json()["save_id"])))
    assert origins == {"adresse", "adresse_annee"}
    assert client.post("/grille/adresses/annuler", json={}).status_code == 200
    back = {r["_k"]: r for r in _page(client, "adresses", annee=YEAR, size=1000)["data"]}[row["_k"]]
    assert (back["commune"], back["places_autorisees"]) == (row["commune"], row["places_autorisees"])


def test_activite_month_is_created_by_a_save(fresh_app):
    client = client_for(fresh_app, "calvados")
    future = (dt.date.today().replace(day=1) + dt.timedelta(days=70)).strftime("%Y-%m")
    row = _page(client, "activite", debut=future, fin=future, size=1)["data"][0]
    assert row["_v"] is None
    response = client.post("/grille/activite/enregistrer", json={
        "period": {"debut": future, "fin": future},
        "rows": [{"k": row["_k"], "v": None, "values": {"places_occupees": "12", "places_vacantes": "-1"}}]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "places_vacantes"
    response = client.post("/grille/activite/enregistrer", json={
        "period": {"debut": future, "fin": future},
        "rows": [{"k": row["_k"], "v": None, "values": {"places_occupees": "12"}}]})
    assert response.status_code == 200
    again = _page(client, "activite", debut=future, fin=future, size=1)["data"][0]
    assert again["places_occupees"] == 12 and again["_v"] == 1


def test_menu_offers_the_grids(login):
    home = login("calvados").get("/").get_data(as_text=True)
    assert "/grille/places/" in home and "Saisie en grille" in home
