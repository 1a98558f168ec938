"""Undoing a grid save is a write too: the gate checks the user's territory and role today,
the State's fields, the domain rules and that nobody changed the rows since."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import client_for
from tests.grid_helpers import YEAR, leaks, query, row, rows, save, written


def _set_user(app, login: str, **changes) -> None:
    """Change a user's territory or roles, as an administrator would between two requests."""
    with app.app_context():
        from app.extensions import db
        from models import BhasileUser, Departement

        user = db.session.scalar(select(BhasileUser).where(BhasileUser.username == login))
        if "departements" in changes:
            user.departements = list(db.session.scalars(select(Departement).where(
                Departement.code.in_(changes["departements"]))))
            user.regions = []
        if "role" in changes:
            user.roles = [db.session.scalar(select(type(user.roles[0])).where(
                type(user.roles[0]).name == changes["role"]))]
        db.session.commit()


def _places(app, key: str) -> tuple:
    from models import PlacesAnnee

    return query(app, lambda s: s.execute(select(PlacesAnnee.pmr, PlacesAnnee.version).where(
        PlacesAnnee.structure_id == int(key), PlacesAnnee.annee == YEAR)).one())


def _with_places(client, dep: str) -> dict:
    return next(r for r in rows(client, "places", annee=YEAR)
                if r["_v"] is not None and r["places_autorisees"] and r["code_dna"].startswith(f"C{dep}"))


def test_undo_is_refused_after_the_user_lost_part_of_the_territory(fresh_app):
    client = client_for(fresh_app, "normandie")
    calvados, seine = _with_places(client, "14"), _with_places(client, "76")
    sent = [row(calvados, pmr="0" if calvados["pmr"] else "1"), row(seine, pmr="0" if seine["pmr"] else "1")]
    assert save(client, "places", sent).status_code == 200
    saved = {r["_k"]: _places(fresh_app, r["_k"]) for r in (calvados, seine)}
    _set_user(fresh_app, "normandie", departements=["76"])  # the Calvados is no longer theirs
    before = written(fresh_app)
    response = client.post("/grille/places/annuler", json={})
    assert response.status_code == 404, response.get_json()
    assert "hors de votre périmètre" in response.get_json()["message"]
    assert leaks(response, calvados["code_dna"], calvados["structure_nom"]) == []
    assert {k: _places(fresh_app, k) for k in saved} == saved  # the Seine-Maritime row too
    assert written(fresh_app) == before


def test_undo_is_refused_after_the_user_lost_the_right_to_write(fresh_app):
    client = client_for(fresh_app, "calvados")
    mine = _with_places(client, "14")
    assert save(client, "places", [row(mine, pmr="0" if mine["pmr"] else "1")]).status_code == 200
    saved = _places(fresh_app, mine["_k"])
    _set_user(fresh_app, "calvados", role="Lecteur")
    response = client.post("/grille/places/annuler", json={})
    assert response.status_code == 403 and "rôle" in response.get_json()["message"]
    assert _places(fresh_app, mine["_k"]) == saved


def test_undo_is_refused_when_someone_changed_the_address_since(fresh_app):
    client = client_for(fresh_app, "calvados")
    mine = next(r for r in rows(client, "adresses", annee=YEAR) if r["_v"] is not None)
    assert save(client, "adresses", [row(mine, commune="Falaise")]).status_code == 200
    fresh = {r["_k"]: r for r in rows(client, "adresses", annee=YEAR)}[mine["_k"]]
    other = client_for(fresh_app, "centrale")
    assert save(other, "adresses", [row(fresh, commune="Vire")]).status_code == 200
    before = written(fresh_app)
    response = client.post("/grille/adresses/annuler", json={})
    assert response.status_code == 409 and "modifiées depuis" in response.get_json()["message"]
    assert {r["_k"]: r for r in rows(client, "adresses", annee=YEAR)}[mine["_k"]]["commune"] == "Vire"
    assert written(fresh_app) == before


def test_undo_of_a_move_between_departements_restores_the_postal_code(fresh_app):
    client = client_for(fresh_app, "normandie")
    mine = next(r for r in rows(client, "structures") if r["departement"] == "14" and r["code_postal"])
    response = save(client, "structures", [row(mine, departement="50", code_postal="50100")], {})
    assert response.status_code == 200, response.get_json()
    undone = client.post("/grille/structures/annuler", json={})
    assert undone.status_code == 200, undone.get_json()
    back = {r["_k"]: r for r in rows(client, "structures")}[mine["_k"]]
    assert (back["departement"], back["code_postal"]) == ("14", mine["code_postal"])


def test_undo_is_refused_when_the_structure_moved_out_since(fresh_app):
    client = client_for(fresh_app, "calvados")
    mine = _with_places(client, "14")
    assert save(client, "places", [row(mine, pmr="0" if mine["pmr"] else "1")]).status_code == 200
    saved = _places(fresh_app, mine["_k"])
    central = client_for(fresh_app, "centrale")
    structure = {r["_k"]: r for r in rows(central, "structures")}[mine["_k"]]
    moved = save(central, "structures", [row(structure, departement="75", code_postal="75011")], {})
    assert moved.status_code == 200, moved.get_json()
    response = client.post("/grille/places/annuler", json={})
    assert response.status_code == 404
    assert leaks(response, mine["code_dna"], "75011") == []
    assert _places(fresh_app, mine["_k"]) == saved


def test_undo_does_not_remove_a_record_of_a_territory_the_user_lost(fresh_app):
    client = client_for(fresh_app, "calvados")
    period = {"annee": YEAR + 7}
    mine = rows(client, "places", **period)[0]
    assert save(client, "places", [row(mine, pmr="1")], period).status_code == 200
    _set_user(fresh_app, "calvados", departements=["50"])
    response = client.post("/grille/places/annuler", json={})
    assert response.status_code == 404 and leaks(response, mine["code_dna"]) == []
    from models import PlacesAnnee

    assert query(fresh_app, lambda s: s.scalar(select(PlacesAnnee.pmr).where(
        PlacesAnnee.structure_id == int(mine["_k"]), PlacesAnnee.annee == YEAR + 7))) == 1
