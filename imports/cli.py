"""``flask bhasile import FILE [--dry-run] [--user LOGIN] [--json] [--year N]``.

Exit code 0: the file is clean (and applied unless ``--dry-run``); 1: row errors, nothing
written; 2: the file itself is unusable, nothing written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click
from sqlalchemy import select

from app.cli import bhasile
from app.extensions import db
from app.scope import NATIONAL, Scope, scope_of
from models import BhasileUser

from .apply import StaleRows
from .batches import apply_batch, create_batch, save_choices
from .result import ImportResult


def user_scope(login: Optional[str]) -> tuple[Scope, object]:
    """The scope of ``--user`` (national without it); exits 2 for an unknown login."""
    if not login:
        return NATIONAL, None

    user = db.session.scalar(select(BhasileUser).where(BhasileUser.username == login))
    if user is None or not user.active:
        click.echo(f"Compte inconnu ou inactif : {login}", err=True)
        sys.exit(2)
    return scope_of(user), user


def _print(result: ImportResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
        return
    if result.problem:
        click.echo(f"Fichier inutilisable : {result.problem}")
        return
    for name, counts in result.as_dict()["sheets"].items():
        click.echo(f"{name:<12} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    for error in result.errors:
        where = f", colonne {error.column}" if error.column else ""
        click.echo(f"ERREUR {error.sheet} ligne {error.row}{where} : {error.message}")
    for warning in result.warnings:
        click.echo(f"Attention : {warning}")
    for conflict in result.open_conflicts:
        e = conflict.issue
        click.echo(f"CONFLIT {e.sheet} ligne {e.row}, colonne {e.column} : votre fichier : "
                   f"{conflict.texts[0]} / BHasile : {conflict.texts[1]}")
    if result.open_conflicts:
        click.echo("Rien n'a été écrit : indiquez quel côté l'emporte avec --conflits fichier "
                   "ou --conflits bhasile.")


@bhasile.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Vérifier sans rien écrire (aperçu).")
@click.option("--user", "login", help="Importer avec le périmètre de ce compte.")
@click.option("--json", "as_json", is_flag=True, help="Résultat en JSON.")
@click.option("--year", type=click.IntRange(1900, 2100),
              help="Année des colonnes annuelles sans année dans l'en-tête.")
@click.option("--conflits", "side", type=click.Choice(["fichier", "bhasile"]),
              help="Cellule modifiée dans le fichier et dans BHasile depuis l'export : la valeur "
                   "gardée (fichier ou bhasile) ; sans cette option, l'import est refusé.")
def import_command(file: Path, dry_run: bool, login: Optional[str], as_json: bool,
                   year: Optional[int], side: Optional[str]) -> None:
    """Importe un classeur (.xlsx, .xlsm, .ods, .csv) : aperçu puis application."""
    if not file.is_file():
        click.echo(f"Fichier introuvable : {file}", err=True)
        sys.exit(2)
    scope, user = user_scope(login)
    batch, result = create_batch(file.read_bytes(), file.name, scope, user, year, origin="cli")
    if side and result.conflicts and not result.errors:
        save_choices(batch, {c.ident: side for c in result.conflicts})
        for conflict in result.conflicts:
            conflict.choice = side
    if result.exit_code or dry_run:
        _print(result, as_json)
        sys.exit(result.exit_code)
    try:
        result = apply_batch(batch, scope, login, origin="import" if login else "cli")
    except StaleRows as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    _print(result, as_json)
    if not as_json:
        click.echo(f"Import n° {batch.id} appliqué.")
    sys.exit(result.exit_code)
