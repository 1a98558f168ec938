"""Reference data: the 101 départements and 18 régions (INSEE), from a CSV in the repo."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import BASE_DIR
from models import Departement, Region

DEPARTEMENTS_CSV = BASE_DIR / "app" / "data" / "departements.csv"


def load_reference(session: Session, path: Path = DEPARTEMENTS_CSV) -> tuple[int, int]:
    """Insert or update régions and départements; returns (régions, départements) counts."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    regions = {r.code: r for r in session.scalars(select(Region))}
    for row in rows:
        code = row["code_region"]
        if code not in regions:
            regions[code] = Region(code=code, nom=row["nom_region"])
            session.add(regions[code])
        else:
            regions[code].nom = row["nom_region"]
    session.flush()
    deps = {d.code: d for d in session.scalars(select(Departement))}
    for row in rows:
        code = row["code_departement"]
        dep = deps.get(code) or Departement(code=code)
        dep.nom = row["nom_departement"]
        dep.region_id = regions[row["code_region"]].id
        session.add(dep)
    session.flush()
    return len(regions), len(rows)
