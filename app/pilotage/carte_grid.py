"""The map's grid: a zoom level's cells of ``CELL_PX`` pixels, and their structures counted
once per rebuild (``agg_carte``, same transaction as the other aggregates) for the zoom levels
a national or regional view uses; closer views count their few structures live.

A cell is ``floor(coordinate / size)`` with ``size`` the degrees of ``CELL_PX`` pixels at the
zoom level; the same arithmetic runs in SQL (rebuild, live view) and in Python (the cells of a
view), so the three always agree.
"""
from __future__ import annotations

import math

from sqlalchemy import Integer, and_, cast, delete, func, insert, literal, select
from sqlalchemy.engine import Connection

from models import AggCarte, Departement, Structure

#: Width of a cluster's cell on screen (pixels).
CELL_PX = 64
#: Zoom levels counted in advance (0 … this one); beyond, a view is a few départements wide.
GRID_MAX_ZOOM = 10
#: SQLite has no floor(): the quotient is shifted positive, then truncated.
SHIFT = 1_000_000


def cell_size(zoom: int) -> float:
    return CELL_PX * 360.0 / (256 * 2 ** zoom)


def cell_sql(value, zoom: int, dialect: str):
    size = cell_size(zoom)
    if dialect == "postgresql":
        return cast(func.floor(value / size), Integer)
    return cast(value / size + SHIFT, Integer) - SHIFT


def cell_py(value: float, zoom: int, dialect: str) -> int:
    size = cell_size(zoom)
    if dialect == "postgresql":
        return math.floor(value / size)
    return int(value / size + SHIFT) - SHIFT


def build(conn: Connection) -> int:
    """Refill ``agg_carte``: per zoom level, cell, département and type."""
    dialect = conn.dialect.name
    conn.execute(delete(AggCarte))
    s = Structure
    cols = ["zoom", "gx", "gy", "departement_id", "type", "region_id", "n", "min_id", "sum_lat",
            "sum_lng", "min_lat", "min_lng", "max_lat", "max_lng"]
    for zoom in range(GRID_MAX_ZOOM + 1):
        gx, gy = cell_sql(s.longitude, zoom, dialect), cell_sql(s.latitude, zoom, dialect)
        query = (select(literal(zoom, Integer), gx, gy, s.departement_id, s.type,
                        func.min(Departement.region_id), func.count(s.id), func.min(s.id),
                        func.sum(s.latitude), func.sum(s.longitude), func.min(s.latitude),
                        func.min(s.longitude), func.max(s.latitude), func.max(s.longitude))
                 .join(Departement, Departement.id == s.departement_id)
                 .where(s.latitude.is_not(None), s.longitude.is_not(None))
                 .group_by(gx, gy, s.departement_id, s.type))
        conn.execute(insert(AggCarte).from_select(cols, query))
    return conn.scalar(select(func.count()).select_from(AggCarte))


def counted_cells(session, zoom: int, bbox: tuple[float, float, float, float], conditions: list,
                  dialect: str) -> list[tuple]:
    """The view's cells from ``agg_carte``: (count, single id or None, lat, lng, south, west,
    north, east) per cell holding structures of ``conditions`` (on ``AggCarte``)."""
    west, south, east, north = bbox
    a = AggCarte
    rows = session.execute(
        select(a.gx, a.gy, func.sum(a.n), func.min(a.min_id), func.sum(a.sum_lat), func.sum(a.sum_lng),
               func.min(a.min_lat), func.min(a.min_lng), func.max(a.max_lat), func.max(a.max_lng))
        .where(a.zoom == zoom,
               a.gy.between(cell_py(south, zoom, dialect), cell_py(north, zoom, dialect)),
               a.gx.between(cell_py(west, zoom, dialect), cell_py(east, zoom, dialect)),
               and_(*conditions))
        .group_by(a.gx, a.gy)).all()
    return [(n, single if n == 1 else None, slat / n, slng / n, s_, w_, n_, e_)
            for _gx, _gy, n, single, slat, slng, s_, w_, n_, e_ in rows]
