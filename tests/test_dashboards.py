"""Dashboards, map, « À traiter » and tarification: right figures, links, downloads, scope."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from tests import dbutil
from tests.conftest import client_for, make_app


@pytest.fixture(scope="module")
def park(template_db, tmp_path_factory):
    """The demo park with its aggregates built."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("dash"))
    with application.app_context():
        from app.jobs import run_job

        run_job("rebuild", "test")
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _count(application, *where):
    with application.app_context():
        from app.extensions import db
        from models import Departement, Structure

        return db.session.scalar(select(func.count(Structure.id)).join(Departement).where(*where))


def _kpi(page: str, label: str) -> str:
    match = re.search(rf'bh-kpi-label">{re.escape(label)}</span>\s*<span class="bh-kpi-value">([^<]+)<', page)
    assert match, label
    return match.group(1).replace("\u202f", " ").replace("\xa0", " ")


def _fr(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def test_national_dashboard_shows_the_whole_park_with_linked_figures(park):
    page = client_for(park, "centrale").get("/tableaux/national/FR/").get_data(as_text=True)
    assert _kpi(page, "Structures") == _fr(_count(park))
    assert "/structureview/list/?_flt_0_type=CADA" in page
    assert re.search(r"/placesanneeview/list/\?_flt_0_annee=\d{4}", page)  # trend points too
    assert "Vue limitée" not in page
    for key in ("places", "occupation", "indues", "cout", "echeances", "tendance_places",
                "tendance_dotation", "regions"):
        assert f'data-chart="donnees-{key}"' in page  # drawn chart…
        assert f"/tableaux/national/FR/xlsx/{key}" in page  # …downloadable
    assert "<script>" not in page.split("</nav>", 1)[-1]  # no inline script: data only


def test_a_departement_agent_national_page_shows_only_their_departement(park):
    from models import Departement

    client = client_for(park, "calvados")
    page = client.get("/tableaux/national/FR/").get_data(as_text=True)
    assert "Vue limitée à votre périmètre" in page
    assert _kpi(page, "Structures") == _fr(_count(park, Departement.code == "14"))
    assert client.get("/tableaux/departement/75/").status_code == 404
    assert client.get("/tableaux/region/11/").status_code == 404
    assert client.get("/tableaux/national/75/").status_code == 404  # one national page: FR
    assert client.get("/tableaux/departement/14/").status_code == 200
    workbook = client.get("/tableaux/national/FR/xlsx/regions")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
    labels = [row[0] for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert labels == ["28 – Normandie"]


def test_a_regional_agent_sees_their_region_whole(park):
    from models import Departement, Region

    client = client_for(park, "normandie")
    page = client.get("/tableaux/region/28/").get_data(as_text=True)
    assert "Vue limitée" not in page
    normandie = Departement.region_id.in_(select(Region.id).where(Region.code == "28"))
    assert _kpi(page, "Structures") == _fr(_count(park, normandie))
    assert client.get("/tableaux/region/84/").status_code == 404


def test_operateur_sees_only_their_own_dashboard(park):
    with park.app_context():
        from app.extensions import db
        from models import BhasileUser, Operateur

        own = db.session.scalar(select(BhasileUser).where(BhasileUser.username == "operateur")).operateur_id
        other = db.session.scalar(select(Operateur.id).where(Operateur.id != own).order_by(Operateur.id))
    client = client_for(park, "operateur")
    assert client.get("/tableaux/").headers["Location"].endswith(f"/tableaux/operateur/{own}/")
    assert client.get(f"/tableaux/operateur/{own}/").status_code == 200
    assert client.get(f"/tableaux/operateur/{other}/").status_code == 404


def test_trends_from_territory_table_equal_trends_summed_from_structures(park):
    with park.test_request_context():
        from app.scope import NATIONAL
        from app.pilotage.tableaux import resolve, trends, trends_from_structures

        years = [2022, 2023, 2024, 2025, 2026]
        for niveau, code in (("national", "FR"), ("region", "28"), ("departement", "14")):
            terr = resolve(niveau, code, NATIONAL)
            assert terr.covered
            fast, slow = trends(terr, years), trends_from_structures(terr, years)
            assert fast.keys() == slow.keys()
            for key in fast:
                for field in ("structures", "places", "dotation_accordee", "taux_occupation", "cout_median"):
                    assert fast[key][field] == pytest.approx(slow[key][field]), (niveau, key, field)


def test_figures_link_to_the_list_behind_them(park):
    client = client_for(park, "centrale")
    page = client.get("/tableaux/structures/?niveau=national&code=FR&alerte=occupation")
    with park.app_context():
        from app.extensions import db
        from models import AggStructure

        low = db.session.scalar(select(func.count()).where(AggStructure.alerte_occupation.is_(True)))
    assert f"{_fr(low)} structures." in page.get_data(as_text=True)
    assert client.get("/tableaux/structures/?niveau=national&code=FR&alerte=nimporte").status_code == 404


def test_chart_workbook_is_formula_safe():
    from app.pilotage.charts import Chart, Series, xlsx_bytes

    chart = Chart("t", "Titre", ["=HYPERLINK(\"http://x\")", "+1"], [Series("Places", [1, None])])
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(chart))).active
    assert sheet["A5"].value == "=HYPERLINK(\"http://x\")" and sheet["A5"].data_type == "s"
    assert sheet["A6"].data_type == "s" and sheet["B5"].value == 1


def test_map_data_stays_in_scope(park):
    data = client_for(park, "calvados").get("/carte/structures.json").get_json()["structures"]
    assert data and all(s["dep"] == "14" for s in data)
    assert all(48.5 < s["lat"] < 49.8 and s["url"].startswith("/structureview/show/") for s in data)
    page = client_for(park, "calvados").get("/carte/").get_data(as_text=True)
    assert 'data-tile-url=""' in page and "vendor/leaflet/leaflet.js" in page


def test_a_traiter_links_each_line_to_a_structure_in_scope(park):
    page = client_for(park, "calvados").get("/a-traiter/").get_data(as_text=True)
    ids = {int(i) for i in re.findall(r"/structureview/show/(\d+)", page)}
    with park.app_context():
        from app.extensions import db
        from models import Departement, Structure

        mine = set(db.session.scalars(select(Structure.id).join(Departement).where(Departement.code == "14")))
    assert ids and ids <= mine
    assert "occupation sous le seuil" in page and "Budget" in page


def test_tarification_compares_in_scope_structures_only(park):
    with park.app_context():
        from app.extensions import db
        from models import Departement, Structure

        inside = db.session.scalar(select(Structure.id).join(Departement).where(Departement.code == "14"))
        outside = db.session.scalar(select(Structure.id).join(Departement).where(Departement.code == "75"))
        op = db.session.scalar(select(Structure.operateur_id).where(Structure.id == inside))
    client = client_for(park, "calvados")
    page = client.get(f"/tarification/structure/{inside}").get_data(as_text=True)
    assert "Même type, national" in page and "Médiane" in page
    assert client.get(f"/tarification/structure/{outside}").status_code == 404
    assert client.get(f"/tarification/operateur/{op}").status_code == 200
    assert client.get("/tarification/?code=ZZZZ").status_code == 200


@pytest.mark.parametrize("user", ["admin", "centrale", "normandie", "calvados", "lecteur", "operateur"])
def test_every_role_reaches_the_dashboards(park, user):
    client = client_for(park, user)
    for path in ("/tableaux/", "/carte/", "/a-traiter/", "/tarification/", "/tableaux/operateurs/"):
        assert client.get(path, follow_redirects=True).status_code == 200, path
