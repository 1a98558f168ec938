"""The structure list as agents use it: computed columns, filters, search, sort, and a
number of SQL queries that does not grow with the page size."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from models import Departement, Region, Structure
from tests.conftest import client_for

ROW_RE = re.compile(r'<tr>\s*<th scope="row"><a href="/structureview/show/(\d+)">([^<]+)</a>')


def codes(body: str) -> list[str]:
    return [code for _sid, code in ROW_RE.findall(body)]


def column(body: str, index: int) -> list[str]:
    """Text of the index-th <td> of every row."""
    rows = re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", body, flags=re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)[index]).strip()
            for r in rows]


@pytest.fixture(scope="module")
def central(app):
    return client_for(app, "centrale")


def count_queries(app, client, url: str) -> int:
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def listener(conn, cursor, statement, *args):
        if " ab_" not in statement and "user_region" not in statement \
                and "user_departement" not in statement:  # FAB's per-menu permission checks
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_query_count_does_not_grow_with_page_size(app, central):
    central.get("/structureview/list/")  # warm-up: the user, roles and menus are cached
    small = count_queries(app, central, "/structureview/list/?psize=20")
    large = count_queries(app, central, "/structureview/list/?psize=200")
    assert large == small, (small, large)
    assert small <= 7  # count, page, communes of the page, three filter drop-downs, saved views


def test_list_shows_bati_communes_and_latest_places(app, central):
    body = central.get("/structureview/list/?psize=200&sort=places_latest&dir=desc").get_data(as_text=True)
    places = [int(re.sub(r"\D", "", p)) for p in column(body, 5) if p != "–"]
    assert places and places == sorted(places, reverse=True)
    assert {"Diffus", "Collectif", "Mixte"} <= set(column(body, 3))
    assert any("," in c for c in column(body, 4))  # several communes for a diffus structure


def test_region_filter_and_search(app, central):
    with app.app_context():
        from app.extensions import db

        normandie = db.session.scalar(select(Region.id).where(Region.code == "28"))
        deps = set(db.session.scalars(select(Departement.code).where(Departement.region_id == normandie)))
        one = db.session.scalar(select(Structure).where(Structure.code_finess.is_not(None)).limit(1))
        finess, code = one.code_finess, one.code_dna
    body = central.get(f"/structureview/list/?region={normandie}&psize=200").get_data(as_text=True)
    shown = {c.split(" - ")[0] for c in column(body, 2)}
    assert shown and shown <= deps
    assert code in codes(central.get(f"/structureview/list/?q={finess}").get_data(as_text=True))


def test_type_bati_places_and_end_of_convention_filters(app, central):
    url = ("/structureview/list/?type=CADA&bati=DIFFUS&places_min=50&places_max=120"
           "&fin_min=2025-01-01&fin_max=2027-12-31&psize=200")
    body = central.get(url).get_data(as_text=True)
    assert codes(body) and all(c.startswith("CADA") for c in column(body, 0))
    assert set(column(body, 3)) == {"Diffus"}
    assert all(50 <= int(re.sub(r"\D", "", p)) <= 120 for p in column(body, 5))
    assert all(y in ("2025", "2026", "2027") for y in (d[-4:] for d in column(body, 6)))


@pytest.mark.parametrize("sort", ["code_dna", "type", "operateur", "departement", "bati",
                                  "communes", "places_latest", "fin_convention"])
def test_every_column_sorts_both_ways(central, sort):
    up = codes(central.get(f"/structureview/list/?sort={sort}&dir=asc").get_data(as_text=True))
    down = codes(central.get(f"/structureview/list/?sort={sort}&dir=desc").get_data(as_text=True))
    assert len(up) == 50 and up != down


def test_filter_drop_downs_only_offer_the_agents_territory(app):
    body = client_for(app, "calvados").get("/structureview/list/").get_data(as_text=True)
    options = re.findall(r'<select id="departement".*?</select>', body, flags=re.S)[0]
    assert "14 - Calvados" in options and "75 - Paris" not in options
    regions = re.findall(r'<select id="region".*?</select>', body, flags=re.S)[0]
    assert "Normandie" in regions and "Bretagne" not in regions


def test_bad_filter_values_are_ignored_not_an_error(central):
    response = central.get("/structureview/list/?places_min=abc&fin_min=31/12&sort=hack&psize=7")
    assert response.status_code == 200 and len(codes(response.get_data(as_text=True))) == 50
