"""``flask bhasile export OUT.xlsx [--sheet NAME]... [--departement CODE]... [--region CODE]...
[--user LOGIN]``: the canonical workbook, for a scope."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import click
from sqlalchemy import select

from app.cli import bhasile
from app.extensions import db
from app.sheets import SHEETS
from imports.cli import user_scope
from models import Departement, Region

from .workbook import export_workbook


def _codes(model, codes: tuple[str, ...], label: str) -> list[str]:
    out = []
    for code in codes:
        code = code.strip().upper()
        code = code.zfill(2) if code.isdigit() and len(code) < 2 else code
        if db.session.scalar(select(model.id).where(model.code == code)) is None:
            click.echo(f"{label} inconnu(e) : {code}", err=True)
            sys.exit(2)
        out.append(code)
    return out


@bhasile.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", "sheets", multiple=True, type=click.Choice([s.name for s in SHEETS]),
              help="Feuille à exporter (répétable ; toutes par défaut).")
@click.option("--departement", "departements", multiple=True, help="Code de département (répétable).")
@click.option("--region", "regions", multiple=True, help="Code INSEE de région (répétable).")
@click.option("--user", "login", help="Exporter avec le périmètre de ce compte.")
def export_command(out: Path, sheets: tuple[str, ...], departements: tuple[str, ...],
                   regions: tuple[str, ...], login: Optional[str]) -> None:
    """Exporte le classeur BHasile (.xlsx) d'un périmètre."""
    scope, _user = user_scope(login)
    deps = _codes(Departement, departements, "Département")
    regs = _codes(Region, regions, "Région")
    started = time.perf_counter()
    counts = export_workbook(db.session, str(out), scope, sheets or None, deps, regs,
                             user=login)
    total = sum(counts.values())
    click.echo(f"{out} : {total} lignes en {time.perf_counter() - started:.1f} s ("
               + ", ".join(f"{k} {v}" for k, v in counts.items()) + ").")
