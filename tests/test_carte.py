"""The map's data: server-side filters (type, région, département, opérateur), always within the
user's territory; the départements' outline is vendored, small, with its licence."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from tests.conftest import client_for

VENDOR = Path(__file__).resolve().parent.parent / "app" / "static" / "vendor" / "france-departements"


def _ids(app, model, column, value) -> int:
    with app.app_context():
        from app.extensions import db

        return db.session.scalar(select(model.id).where(column == value))


def test_filters_narrow_the_markers_within_the_scope(app):
    from models import Departement, Region

    centrale = client_for(app, "centrale")
    everything = centrale.get("/carte/structures.json").get_json()["structures"]
    cada = centrale.get("/carte/structures.json?type=CADA").get_json()["structures"]
    assert 0 < len(cada) < len(everything) and {s["type"] for s in cada} == {"CADA"}
    normandie = _ids(app, Region, Region.code, "28")
    in_region = centrale.get(f"/carte/structures.json?region={normandie}&type=HUDA").get_json()["structures"]
    assert in_region and {s["dep"] for s in in_region} <= {"14", "27", "50", "61", "76"}
    assert {s["type"] for s in in_region} == {"HUDA"}
    operateur = everything[0]["operateur"]
    with app.app_context():
        from app.extensions import db
        from models import Operateur

        op_id = db.session.scalar(select(Operateur.id).where(Operateur.nom == operateur))
    mine = centrale.get(f"/carte/structures.json?operateur={op_id}").get_json()["structures"]
    assert mine and {s["operateur"] for s in mine} == {operateur}

    calvados = client_for(app, "calvados")
    paris = _ids(app, Departement, Departement.code, "75")
    assert calvados.get(f"/carte/structures.json?departement={paris}").get_json()["structures"] == []
    own = calvados.get("/carte/structures.json?type=nimporte&region=abc").get_json()["structures"]
    assert own and {s["dep"] for s in own} == {"14"}  # unknown values are ignored, scope holds


def test_the_map_page_offers_the_filters_of_the_territory_and_the_outline(app):
    page = client_for(app, "calvados").get("/carte/?type=CADA").get_data(as_text=True)
    assert 'id="map-type"' in page and '<option value="CADA" selected>' in page
    assert "/carte/clusters.json?type=CADA" in page  # the view's clusters, with the filters
    assert "vendor/france-departements/departements.geojson" in page
    assert page.count('class="bh-map-dot') == 5


def test_the_outline_is_small_complete_and_licensed():
    path = VENDOR / "departements.geojson"
    assert path.stat().st_size < 400_000
    codes = {f["properties"]["code"] for f in json.loads(path.read_text(encoding="utf-8"))["features"]}
    assert len(codes) == 101 and {"2A", "2B", "971", "976"} <= codes
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "Licence Ouverte" in readme and "ADMIN EXPRESS" in readme
    assert (VENDOR / "LICENCE").exists()
