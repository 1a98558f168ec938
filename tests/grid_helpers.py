"""What the grid's gate tests share: reading a grid page, posting a save, reading the database,
and the proof that a refused save wrote nothing."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

YEAR = dt.date.today().year


def rows(client, slug: str, **params) -> list[dict]:
    """The rows of a grid page as the grid's script sees them (``_k``, ``_v``, ``_pv``)."""
    params.setdefault("size", 1000)
    response = client.get(f"/grille/{slug}/donnees", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return [dict(zip(body["fields"], values)) for values in body["rows"]]


def save(client, slug: str, sent: list[dict], period: dict | None = None):
    return client.post(f"/grille/{slug}/enregistrer",
                       json={"period": {"annee": YEAR} if period is None else period, "rows": sent})


def row(loaded: dict, **values) -> dict:
    """A row of a save, with the versions it was loaded at."""
    return {"k": loaded["_k"], "v": loaded["_v"], "pv": loaded.get("_pv"), "values": values}


def query(app, fn) -> Any:
    """``fn(session)`` inside the app (values read before the session closes)."""
    with app.app_context():
        from app.extensions import db

        try:
            return fn(db.session)
        finally:
            db.session.rollback()


def written(app) -> tuple[int, int]:
    """How many history lines and grid saves there are: a refusal leaves both as they were."""
    from models import Changement
    from models.grid import GridSave

    return query(app, lambda s: (s.scalar(select(func.count()).select_from(Changement)),
                                 s.scalar(select(func.count()).select_from(GridSave))))


def user_scope(app, login: str):
    from app.scope import scope_of
    from models import BhasileUser

    return query(app, lambda s: scope_of(s.scalar(select(BhasileUser)
                                                  .where(BhasileUser.username == login))))


def outside_structure(app, login: str, **where) -> dict:
    """A structure outside ``login``'s territory (with an address, places and a budget of the
    year when asked), as a dict of what must never appear in an answer to that user."""
    from app.scope import structure_condition
    from models import Adresse, BudgetAnnee, PlacesAnnee, Structure

    scope = user_scope(app, login)

    def find(session):
        stmt = select(Structure).where(~structure_condition(scope)).order_by(Structure.id)
        if where.get("adresse"):
            stmt = stmt.where(Structure.id.in_(select(Adresse.structure_id)))
        if where.get("places"):
            stmt = stmt.where(Structure.id.in_(select(PlacesAnnee.structure_id)
                                               .where(PlacesAnnee.annee == YEAR)))
            stmt = stmt.where(Structure.id.in_(select(BudgetAnnee.structure_id)
                                               .where(BudgetAnnee.annee == YEAR)))
        found = session.scalars(stmt).first()
        adresse = session.scalars(select(Adresse).where(Adresse.structure_id == found.id)
                                  .order_by(Adresse.id)).first()
        return {"id": found.id, "code_dna": found.code_dna, "nom": found.nom,
                "code_postal": found.code_postal, "version": found.version,
                "adresse_id": adresse.id if adresse else None,
                "adresse": adresse.adresse if adresse else None,
                "adresse_version": adresse.version if adresse else None}

    return query(app, find)


def leaks(response, *values: Any) -> list[Any]:
    """The values of another territory an answer shows (must be none)."""
    text = response.get_data(as_text=True)
    return [v for v in values if v and str(v) in text]
