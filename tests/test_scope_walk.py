"""Each role walks every page, API list, export, chart, map and drop-down of the app — every
GET address of the registry, then the links of what it reached — and never reads a stored
value of a record outside its territory; an id or a territory code outside it answers 404.

Roles: a départemental agent (Calvados), a regional agent (Normandie), an opérateur, a reader
with a territory (Bretagne) and the national reader. The national administration has left
campaigns, documents, an import and an export around, inside and outside those territories.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import Auth, client_for, make_app
from tests.test_documents_samples import pdf
from tests.walk_territory import markers, territory
from tests.walk_text import Markers, answer_text
from tests.walk_urls import SKIP, registry_visits, walk

ROLES = ["calvados", "normandie", "operateur", "lecteur_bretagne", "lecteur"]


@pytest.fixture(scope="module")
def walk_app(template_db):
    url, tmp = template_db
    # a territory's exports are written and read; the nation's stop at the confirmation page
    application = make_app(dbutil.clone(url, tmp, "walk"), tmp, BHASILE_EXPORT_SYNC_MAX_ROWS=3000)
    with application.app_context():
        from app.cli import create_or_update_user
        from app.extensions import db
        from models.enums import Role

        create_or_update_user("lecteur_bretagne", Role.LECTEUR, dbutil.PASSWORD, regions=["53"])
        db.session.commit()
    _leave_records_around(application)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _db():
    from app.extensions import db

    return db.session


def _leave_records_around(app) -> None:
    """What the national administration did: a campaign outside every walker's territory and one
    across theirs, documents on structures inside and outside, an import and an export."""
    with app.app_context():
        from models import BhasileUser, Departement, ExportJob, ImportBatch, Structure

        op = _db().scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        rows = _db().execute(select(Structure.id, Structure.operateur_id, Departement.id,
                                    Departement.code, Departement.region_id).join(Departement)
                             .order_by(Departement.code, Structure.id)).all()
        regions = {r[3]: r[4] for r in rows}
        walked = {"14", "35"} | {r[3] for r in rows if r[1] == op} | {
            code for code, region in regions.items() if region in {regions["14"], regions["35"]}}
        elsewhere = next(r for r in rows if r[3] not in walked)
        own = next(r for r in rows if r[1] == op)
        shared = sorted({r[2] for r in rows if r[3] in ("14", "35")} | {own[2]})
        centrale_id = _db().scalar(select(BhasileUser.id).where(BhasileUser.username == "centrale"))
        _db().add(ExportJob(owner_id=centrale_id, kind="vue", title="Export national du jour",
                            params="{}", status="termine"))
        _db().add(ImportBatch(user_id=centrale_id, username="centrale", filename="import-national.xlsx",
                              status="refuse", counts="{}"))
        _db().commit()
        calvados = next(r for r in rows if r[3] == "14")
    centrale = client_for(app, "centrale")
    _open_campaign(centrale, "Collecte hors des périmètres", [elsewhere[2]])
    _open_campaign(centrale, "Collecte partagée", shared)
    for sid, name in ((calvados[0], "piece-calvados.pdf"), (own[0], "piece-operateur.pdf"),
                      (elsewhere[0], "piece-ailleurs.pdf")):
        page = f"/documents/structure/{sid}/"
        response = centrale.post(page + "upload", content_type="multipart/form-data", data={
            "csrf_token": Auth(centrale).csrf(page), "categorie": "BUDGET_PREVISIONNEL_DEMANDE",
            "annee": "2026", "fichier": (io.BytesIO(pdf()), name)})
        assert response.status_code == 302, name


def _open_campaign(client, nom: str, departements: list[int]) -> None:
    response = client.post("/campagnes/ouvrir", data={
        "csrf_token": Auth(client).csrf("/campagnes/ouvrir"), "nom": nom, "annees": "2024-2025",
        "departement": [str(d) for d in departements], "feuille": ["Structures", "Places"]})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def known_exposures(session, terr) -> set[str]:
    """Values outside the territory still shown, each a finding with its own xfail test below;
    remove an entry here with its test's marker when the fix lands."""
    from models import Operateur, Structure

    if terr.national:
        return set()
    known: set[str] = set()
    if terr.is_operateur:  # W2: an opérateur's drop-downs offer the opérateurs without structure
        used = select(Structure.operateur_id).where(Structure.operateur_id.is_not(None))
        known |= set(session.scalars(select(Operateur.nom).where(Operateur.id.not_in(used))))
    return known


@pytest.mark.parametrize("role", ROLES)
def test_no_answer_shows_a_record_outside_the_territory(walk_app, role):
    with walk_app.app_context():
        terr = territory(_db(), role)
        forbidden, allowed = markers(_db(), terr)
        for value in known_exposures(_db(), terr):
            forbidden.pop(value, None)
            allowed.add(value)
    visits = registry_visits(walk_app, terr)
    # the national reader has nothing outside: its links lead where the other walks went
    report = walk(walk_app, client_for(walk_app, role), visits, Markers(forbidden, allowed).find,
                  answer_text, max_depth=0 if terr.national else 2)
    print(f"{role}: {len(visits)} addresses from the registry, {report.urls} walked, "
          f"{dict(sorted(report.statuses.items()))}, {len(forbidden)} forbidden values")
    assert not report.errors, f"server errors: {report.errors[:10]}"
    assert not report.leaks, f"records outside the territory shown: {dict(list(report.leaks.items())[:10])}"
    assert not report.not_404, f"outside ids not answered 404: {report.not_404[:15]}"
    # the walk did read the territory: pages answered and showed the role's own records
    assert report.statuses[200] > 50 and report.allowed_seen > 100


def test_the_walk_reaches_every_registered_get_address(walk_app):
    """A new view is walked without touching this test: every GET rule yields an address."""
    with walk_app.app_context():
        terr = territory(_db(), "calvados")
    visits = registry_visits(walk_app, terr)
    adapter = walk_app.url_map.bind("localhost")
    walked = {adapter.match(v.url.partition("?")[0], method="GET")[0] for v in visits}
    rules = {r.endpoint for r in walk_app.url_map.iter_rules() if "GET" in r.methods} - SKIP
    assert rules <= walked, rules - walked


def test_a_convention_export_names_only_the_structures_of_the_territory(walk_app):
    with walk_app.app_context():
        terr = territory(_db(), "normandie")
        forbidden, allowed = markers(_db(), terr)
    response = client_for(walk_app, "normandie").get("/exporter/vue/ConventionView/")
    assert response.status_code == 200
    assert not Markers(forbidden, allowed).find(answer_text(response))[0]


def test_an_operateur_is_offered_no_other_operateur(walk_app):
    client = client_for(walk_app, "operateur")
    with walk_app.app_context():
        from models import BhasileUser

        own = _db().scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    for path in ("/api/v1/structure/_info", "/api/v1/convention/_info"):
        info = client.get(path).get_json()
        offered = {v["id"] for f in info["add_columns"] + info["edit_columns"]
                   if f["name"] == "operateur" for v in f["values"]}
        assert offered <= {own}, path


def test_the_markers_read_an_answer_as_its_reader_would():
    markers = Markers({"CADA Val": "s1", "75001": "s1 code postal", "Association Accueil": "op1"},
                      {"Association Accueil Calvados", "CADA Val-sur-Mer"})
    assert markers.find("<td>CADA Val</td>")[0] == {"s1"}
    assert markers.find('<a title="CADA Val">')[0] == {"s1"}
    assert markers.find("<td>cada val</td><td>75001</td>")[0] == {"s1", "s1 code postal"}
    assert markers.find("<td>CADA Val-sur-Mer</td><td>Association Accueil Calvados</td>") == (set(), 2)
    assert markers.find('<a href="/activiteview/show/75001">CADA Valmy</a> 75 001,50 €')[0] == set()
