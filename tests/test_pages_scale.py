"""Issue #21: the daily pages read what they show — « À traiter » from the aggregates, the
map's clusters of its view, the list's search through its index, the opérateur filter by
autocomplete — and answer what they answered before (the old code is the oracle,
tests/oracle_pages.py), within the user's territory only."""
from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from tests import dbutil
from tests.conftest import client_for, make_app, run_cli
from tests.oracle_pages import old_search_ids

USERS = ("centrale", "normandie", "calvados", "operateur")


@pytest.fixture(scope="module")
def park(template_db, tmp_path_factory):
    """The demo park with its aggregates built (as the scheduler keeps them)."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("pages"))
    assert run_cli(application, "bhasile", "rebuild").exit_code == 0
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _as_user(app, username: str):
    """A request context where ``username`` is the signed-in user."""
    ctx = app.test_request_context("/")
    ctx.push()
    g.user = app.appbuilder.sm.find_user(username=username)
    return ctx


# --- « À traiter » -----------------------------------------------------------------------------

@pytest.mark.parametrize("username", USERS)
def test_a_traiter_shows_the_lines_and_counts_of_the_old_page(park, username):
    import datetime as dt

    from tests import oracle_pages
    from views import a_traiter

    ctx = _as_user(park, username)
    try:
        today = dt.date.today()
        old = {s.key: s for s in oracle_pages.sections(today)}
        new = a_traiter.sections(today)
        # the budget dialogue's section (tests/test_dialogue_gate.py) is newer than the oracle
        assert new[-1].key == "dialogue"
        new = new[:-1]
        assert [s.key for s in new] == list(old)
        for section in new:
            before = old[section.key]
            assert section.title == before.title
            assert section.total == len(before.lines), section.key
            assert section.lines == before.lines[:a_traiter.PREVIEW_LINES], section.key
        assert sum(s.total for s in new) > 0
    finally:
        ctx.pop()


@pytest.mark.parametrize("username", USERS)
def test_a_rubriques_pages_hold_every_line_of_the_old_page_in_its_order(park, username):
    import datetime as dt

    from tests import oracle_pages
    from views import a_traiter

    ctx = _as_user(park, username)
    try:
        today = dt.date.today()
        old = {s.key: s for s in oracle_pages.sections(today)}
        for key, before in old.items():
            first, pages = a_traiter.rubrique_section(key, today, 1)
            assert first.total == len(before.lines), key
            assert pages == max(1, -(-len(before.lines) // a_traiter.PAGE_LINES)), key
            lines = list(first.lines)
            for number in range(2, pages + 1):
                lines += a_traiter.rubrique_section(key, today, number)[0].lines
            assert lines == before.lines, key
            with pytest.raises(LookupError):
                a_traiter.rubrique_section(key, today, pages + 1)
    finally:
        ctx.pop()


def test_a_traiter_page_counts_every_line_and_shows_the_first(park):
    from views.a_traiter import PAGE_LINES, PREVIEW_LINES

    client = client_for(park, "centrale")
    page = client.get("/a-traiter/").get_data(as_text=True)
    assert "… et " in page and "autres." in page      # a national rubrique beyond its first lines
    assert page.count("/structureview/show/") <= 9 * PREVIEW_LINES
    link = re.search(r'href="(/a-traiter/documents/)">Voir les (\d+) lignes', page)
    assert link, "the documents' rubrique links to all its lines"
    total = int(link[2])
    assert total > PAGE_LINES
    first = client.get(link[1]).get_data(as_text=True)
    assert f"Lignes 1 à {PAGE_LINES} sur {total}" in first and "Page suivante" in first
    assert first.count("/structureview/show/") == PAGE_LINES
    last_page = -(-total // PAGE_LINES)
    last = client.get(f"{link[1]}?page={last_page}").get_data(as_text=True)
    assert f"sur {total}" in last and f"Page {last_page} sur {last_page}" in last
    assert last.count("/structureview/show/") == total - (last_page - 1) * PAGE_LINES


@pytest.mark.parametrize("url, status", [
    ("/a-traiter/inconnue/", 404), ("/a-traiter/documents/?page=0", 404),
    ("/a-traiter/documents/?page=999999", 404), ("/a-traiter/documents/?page=abc", 400),
    ("/a-traiter/documents/?page=-1", 400), ("/a-traiter/documents/?page=" + "9" * 40, 400),
])
def test_a_rubrique_page_past_the_end_or_unknown_is_a_french_error(park, url, status):
    answer = client_for(park, "centrale").get(url)
    assert answer.status_code == status
    text = answer.get_data(as_text=True)
    assert ("Numéro de page" in text) if status == 400 else ("Page introuvable" in text)


def test_a_departement_agents_rubrique_pages_hold_their_territory_only(park):
    from models import Departement, Structure

    with park.app_context():
        from app.extensions import db

        mine = set(db.session.scalars(select(Structure.id).join(Departement).where(Departement.code == "14")))
    client = client_for(park, "calvados")
    national = client_for(park, "centrale").get("/a-traiter/documents/").get_data(as_text=True)
    seen = set()
    for key in ("documents", "completude", "autorisations", "indues"):
        page = client.get(f"/a-traiter/{key}/").get_data(as_text=True)
        seen |= {int(i) for i in re.findall(r"/structureview/show/(\d+)", page)}
    assert seen and seen <= mine
    national_ids = {int(i) for i in re.findall(r"/structureview/show/(\d+)", national)}
    assert national_ids - mine   # the national page shows others, the agent's does not


# --- the map -----------------------------------------------------------------------------------

FRANCE = "bbox=-5.5,41.0,10.0,51.5"
WORLD = "bbox=-180,-90,180,90"


def _old(client, query: str = "") -> list[dict]:
    return client.get(f"/carte/structures.json?{query}").get_json()["structures"]


def _inside(app, markers, view: str) -> list[dict]:
    """The markers in the cells of the zoom's grid that the view touches."""
    from app.pilotage.carte_grid import cell_py

    zoom = int(view.split("&")[0].split("=")[1])
    west, south, east, north = (float(v) for v in view.split("&")[1].split("=")[1].split(","))
    with app.app_context():
        from app.extensions import db

        dialect = db.engine.dialect.name

    def cell(v):
        return cell_py(v, zoom, dialect)

    return [m for m in markers if cell(south) <= cell(m["lat"]) <= cell(north)
            and cell(west) <= cell(m["lng"]) <= cell(east)]


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("view", [f"zoom=3&{WORLD}", f"zoom=6&{FRANCE}", "zoom=9&bbox=-1.2,48.7,0.5,49.5",
                                  "zoom=16&bbox=-0.5,48.9,0.0,49.3"])
def test_map_clusters_hold_the_old_markers_of_the_view(park, username, view):
    client = client_for(park, username)
    old = _inside(park, _old(client), view)
    answer = client.get(f"/carte/clusters.json?{view}&fit=1&liste=1")
    assert answer.status_code == 200
    new = answer.get_json()
    assert new["total"] == len(_old(client))
    assert new["in_view"] == len(old) == sum(c["count"] for c in new["clusters"]) + len(new["structures"])
    by_id = {m["id"]: m for m in old}
    assert all(by_id[s["id"]] == s for s in new["structures"])  # the same facts, key by key
    assert new["liste"] == sorted(old, key=lambda m: m["code"])[:100]
    for c in new["clusters"]:  # each cluster: structures of the view within its bounds
        (south, west), (north, east) = c["bounds"]
        assert c["count"] > 1 and south <= c["lat"] <= north and west <= c["lng"] <= east
        assert c["count"] <= len([m for m in old if south <= m["lat"] <= north and west <= m["lng"] <= east])
    if view.startswith("zoom=16"):
        assert new["clusters"] == [] and len(new["structures"]) == len(old)


def test_map_clusters_follow_the_filters(park):
    from models import Region

    client = client_for(park, "centrale")
    with park.app_context():
        from app.extensions import db

        normandie = db.session.scalar(select(Region.id).where(Region.code == "28"))
    for query in ("type=CPH", f"region={normandie}&type=HUDA"):
        new = client.get(f"/carte/clusters.json?zoom=5&{WORLD}&fit=1&{query}").get_json()
        assert new["total"] == new["in_view"] == len(_old(client, query)) > 0


def test_a_departement_agent_never_counts_another_territory(park):
    from models import Departement, Operateur, Structure

    client = client_for(park, "calvados")
    with park.app_context():
        from app.extensions import db

        own = db.session.scalar(select(db.func.count(Structure.id)).join(Departement)
                                .where(Departement.code == "14", Structure.latitude.is_not(None)))
        paris = db.session.scalar(select(Departement.id).where(Departement.code == "75"))
        elsewhere = db.session.scalar(
            select(Operateur.id).where(~Operateur.id.in_(
                select(Structure.operateur_id).join(Departement).where(Departement.code == "14")))
            .where(Operateur.id.in_(select(Structure.operateur_id))).limit(1))
    for zoom in (0, 4, 6, 8):
        new = client.get(f"/carte/clusters.json?zoom={zoom}&{WORLD}&fit=1").get_json()
        assert new["total"] == new["in_view"] == own
        assert sum(c["count"] for c in new["clusters"]) + len(new["structures"]) == own
        assert {s["dep"] for s in new["structures"]} <= {"14"}
    # a filter outside the territory: not found, nothing said of it
    assert client.get(f"/carte/clusters.json?zoom=6&{FRANCE}&departement={paris}").status_code == 404
    assert client.get(f"/carte/clusters.json?zoom=6&{FRANCE}&operateur={elsewhere}").status_code == 404


@pytest.mark.parametrize("query", [
    "", "zoom=6", FRANCE, "zoom=abc&" + FRANCE, "zoom=-1&" + FRANCE, "zoom=99&" + FRANCE,
    "zoom=6.5&" + FRANCE, "zoom=6&bbox=1,2,3", "zoom=6&bbox=a,b,c,d", "zoom=6&bbox=10,41,5,51",
    "zoom=6&bbox=-5,52,10,41", "zoom=6&bbox=nan,41,10,51", "zoom=6&bbox=-500,41,10,51",
    "zoom=6&bbox=-5,41,10,inf", "zoom=6&bbox=" + "9" * 400 + ",1,2,3",
])
def test_a_malformed_view_is_a_french_400(park, query):
    answer = client_for(park, "centrale").get(f"/carte/clusters.json?{query}")
    assert answer.status_code == 400
    message = answer.get_json()["message"]
    assert "zoom" in message or "cadre de la carte" in message


def test_the_map_page_embeds_no_structure_and_no_operateur_list(park):
    page = client_for(park, "centrale").get("/carte/").get_data(as_text=True)
    assert "/carte/clusters.json" in page
    assert 'role="combobox"' in page and 'id="map-operateur"' in page
    assert page.count("<option") < 200   # types, régions and départements; no opérateur


# --- the list's search -------------------------------------------------------------------------

def _search_terms(app) -> list[str]:
    from models import Adresse, Operateur, Structure

    with app.app_context():
        from app.extensions import db

        s = db.session.execute(select(Structure.code_dna, Structure.nom, Structure.code_postal,
                                      Structure.code_finess).where(Structure.code_finess.is_not(None))
                               .order_by(Structure.id).limit(1)).one()
        commune = db.session.scalar(select(Adresse.commune).where(Adresse.commune.is_not(None))
                                    .order_by(Adresse.id.desc()).limit(1))
        operateur = db.session.scalar(select(Operateur.nom).order_by(Operateur.id).limit(1))
    return ["saint", "SAINT", "sur-", s.code_dna, s.code_dna[:3], s.nom[2:9], s.code_postal[:3],
            s.code_finess[-4:], commune[1:6], operateur[2:10], operateur.upper(), "ca", "1", "zzzq",
            "50%", "a_b"]


def test_the_indexed_search_finds_what_the_old_search_found(park):
    from views.structure_list import search_condition

    from models import Structure

    for q in _search_terms(park):
        with park.app_context():
            from app.extensions import db

            new = set(db.session.scalars(select(Structure.id).where(search_condition(q))))
            assert new == old_search_ids(q), q


def test_the_list_with_a_search_counts_the_same_structures(park):
    client = client_for(park, "centrale")
    for q in ("saint", "HUDA"):
        page = client.get(f"/structureview/list/?q={q}&psize=20").get_data(as_text=True)
        with park.app_context():
            expected = len(old_search_ids(q))
        assert f"Nombre de lignes :</strong> {expected}<" in page


def test_the_search_index_follows_every_write(fresh_app):
    from views.structure_list import search_condition

    from models import Adresse, Operateur, Structure
    from models.enums import Repartition

    with fresh_app.app_context():
        from app.extensions import db

        def found(q):
            return set(db.session.scalars(select(Structure.id).where(search_condition(q))))

        structure = db.session.scalars(select(Structure).order_by(Structure.id).limit(1)).one()
        sid = structure.id
        structure.nom = "Foyer Xylophone"
        db.session.commit()
        assert found("xylophone") == {sid} == old_search_ids("xylophone")
        db.session.add(Adresse(structure_id=sid, adresse="1 rue Test", commune="Quokkaville",
                               code_postal="99999", repartition=list(Repartition)[0]))
        db.session.commit()
        assert found("quokka") == {sid} and found("99999") == {sid}
        operateur = db.session.get(Operateur, structure.operateur_id)
        operateur.nom = "Association Wombat"
        db.session.commit()
        ids = found("wombat")
        assert sid in ids and ids == old_search_ids("wombat")
        db.session.execute(Adresse.__table__.delete().where(Adresse.commune == "Quokkaville"))
        db.session.commit()
        assert found("quokka") == set()
        db.session.delete(db.session.get(Structure, sid))
        db.session.commit()
        assert found("xylophone") == set()



def test_the_rebuild_merges_the_search_index_pending_writes(fresh_app):
    """PostgreSQL's GIN index keeps recent writes in a pending list every search reads through:
    the rebuild (asked by every write to the search's tables) merges it, and the search still
    finds the new names; the planner knows the refilled aggregate tables' sizes (« À traiter »
    then reads a rubrique's first lines through its index instead of sorting them all)."""
    from views.structure_list import search_condition

    from models import Structure

    with fresh_app.app_context():
        from app.extensions import db

        structures = db.session.scalars(select(Structure).order_by(Structure.id).limit(30)).all()
        for n, structure in enumerate(structures):
            structure.nom = f"Foyer Ornithorynque {n}"
        ids = {s.id for s in structures}
        db.session.commit()
    assert run_cli(fresh_app, "bhasile", "rebuild").exit_code == 0
    with fresh_app.app_context():
        found = set(db.session.scalars(select(Structure.id).where(search_condition("ornithorynque"))))
        assert found == ids == old_search_ids("ornithorynque")
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
                pending = conn.exec_driver_sql(
                    "SELECT pending_tuples FROM pgstatginindex('ix_structure_recherche_trgm')").scalar()
                known = conn.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE relname = 'agg_a_traiter'").scalar()
                rows = conn.exec_driver_sql("SELECT count(*) FROM agg_a_traiter").scalar()
            assert pending == 0
            assert rows > 0 and known == rows

# --- the opérateur filter by autocomplete --------------------------------------------------------

def _in_scope_operateurs(app, username: str) -> set[int]:
    from app.scope import condition_for, scope_of
    from models import Operateur

    with app.app_context():
        from app.extensions import db

        user = app.appbuilder.sm.find_user(username=username)
        return set(db.session.scalars(select(Operateur.id).where(condition_for(Operateur, scope_of(user)))))


@pytest.mark.parametrize("username", USERS)
def test_the_autocomplete_proposes_only_the_territorys_operateurs(park, username):
    from models import Operateur

    client = client_for(park, username)
    allowed = _in_scope_operateurs(park, username)
    with park.app_context():
        from app.extensions import db

        names = dict(db.session.execute(select(Operateur.id, Operateur.nom)).all())
    outside = [names[i] for i in sorted(set(names) - allowed)][:5]
    for q in ["", "a", "asso", *outside, *[names[i][:6] for i in sorted(allowed)[:3]]]:
        found = client.get("/structureview/operateurs.json", query_string={"q": q}).get_json()["operateurs"]
        assert len(found) <= 20
        assert {o["id"] for o in found} <= allowed, q
        assert all(q.lower() in o["nom"].lower() for o in found)
        if q in outside:
            assert all(o["nom"] != q for o in found)
    if allowed:
        first = names[min(allowed)]
        found = client.get("/structureview/operateurs.json", query_string={"q": first}).get_json()["operateurs"]
        assert first in {o["nom"] for o in found}


def test_the_list_embeds_the_chosen_operateur_only(park):
    from models import Operateur

    with park.app_context():
        from app.extensions import db

        op_id, nom = db.session.execute(select(Operateur.id, Operateur.nom).order_by(Operateur.id).limit(1)).one()
    page = client_for(park, "centrale").get(f"/structureview/list/?operateur={op_id}").get_data(as_text=True)
    assert f'name="operateur" value="{op_id}"' in page
    from markupsafe import escape

    assert f'value="{escape(nom)}"' in page
    assert page.count("<option") < 250
    assert client_for(park, None).get("/structureview/operateurs.json?q=a").status_code in (302, 401)
