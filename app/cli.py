"""``flask bhasile ...``: schema and reference data, demo park, accounts."""
from __future__ import annotations

import secrets
import sys
import time
from typing import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import func, select

from models import Departement, Operateur, Region, Structure
from models.enums import Role

from .audit import audit_context, record_event
from .extensions import db
from app.jobs.queue import ensure_schema, worker_command
from app.jobs.scheduler import rebuild_command, rollover_command, scheduler_command
from app.documents.storage import check_files_command
from . import demo_accounts
from .comptes import territory_errors
from .passwords import password_policy
from .demo import generate
from .roles import sync_roles
from .reference import load_reference

bhasile = AppGroup("bhasile", help="Commandes d'administration de BHasile.")
for _command in (worker_command, scheduler_command, rebuild_command, rollover_command,
                 check_files_command):
    bhasile.add_command(_command)

#: The demo accounts of the quick start: login → (role, scope options, label).
DEMO_USERS = {
    "admin": (Role.ADMIN, {}, "Administrateur"),
    "centrale": (Role.CENTRAL, {}, "Direction de l'asile"),
    "normandie": (Role.REGIONAL, {"regions": ["28"]}, "Agent régional Normandie"),
    "calvados": (Role.DEPARTEMENTAL, {"departements": ["14"]}, "Agent départemental Calvados"),
    "lecteur": (Role.LECTEUR, {}, "Lecteur national"),
    "operateur": (Role.OPERATEUR, {"operateur": None}, "Opérateur (le plus grand du Calvados)"),
}


@bhasile.command("init")
def init_command() -> None:
    """Schéma (migrations), référentiel des territoires et rôles ; aucune donnée métier."""
    upgrade(directory=current_app.extensions["migrate"].directory)

    with audit_context("cli"):
        regions, deps = load_reference(db.session)
        db.session.commit()
    sync_roles(current_app.appbuilder)
    if ensure_schema(current_app._get_current_object()):
        click.echo("File de tâches PostgreSQL (procrastinate) installée.")
    click.echo(f"Schéma à jour ; {regions} régions, {deps} départements ; {len(Role)} rôles.")


@bhasile.command("demo")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Multiplie la taille du parc (10 pour les mesures de performance).")
@click.option("--if-empty", is_flag=True, help="Ne rien faire si des structures existent déjà.")
def demo_command(scale: int, if_empty: bool) -> None:
    """Génère un parc national de démonstration, déterministe."""
    existing = db.session.scalar(select(func.count(Structure.id)))
    if existing:
        if if_empty:
            click.echo(f"Parc déjà présent ({existing} structures) : rien à faire.")
            return
        raise click.ClickException(
            f"La base contient déjà {existing} structures : le parc de démonstration "
            "se génère sur une base vide.")
    started = time.perf_counter()
    counts = generate(db.session, scale=scale)
    record_event(db.session, "demo", "structure", f"scale={scale}", None, origin="cli")
    db.session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Parc de démonstration ×{scale} généré en {elapsed:.1f} s :")
    for table, n in counts.items():
        click.echo(f"  {table:<22} {n:>9,}".replace(",", " "))


def _resolve_scope(regions, departements, operateur):
    region_objs = []
    for code in regions:
        region = db.session.scalar(select(Region).where(Region.code == code))
        if region is None:
            raise click.BadParameter(f"région inconnue : {code}", param_hint="--region")
        region_objs.append(region)
    dep_objs = []
    for code in departements:
        code = code.zfill(2) if code.isdigit() and len(code) < 2 else code.upper()
        dep = db.session.scalar(select(Departement).where(Departement.code == code))
        if dep is None:
            raise click.BadParameter(f"département inconnu : {code}", param_hint="--departement")
        dep_objs.append(dep)
    op = None
    if operateur:
        op = db.session.scalar(select(Operateur).where(Operateur.nom == operateur))
        if op is None:
            raise click.BadParameter(f"opérateur inconnu : {operateur}", param_hint="--operateur")
    return region_objs, dep_objs, op


def create_or_update_user(login: str, role: Role, password: str, regions=(), departements=(),
                          operateur: str | None = None, first_name: str | None = None,
                          last_name: str | None = None, email: str | None = None):
    """Create (or reset) a database account with its role and scope (the password follows
    the policy of every other path, ``app/passwords.py``; a new one ends the account's
    sessions and API tokens)."""
    from flask_appbuilder.exceptions import PasswordComplexityValidationError
    from werkzeug.security import generate_password_hash


    try:
        password_policy(password, login)
    except PasswordComplexityValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--password-stdin") from None
    sm = current_app.appbuilder.sm
    role_obj = sm.find_role(role.value)
    if role_obj is None:
        raise click.ClickException("Rôles absents : lancez d'abord « flask bhasile init ».")
    region_objs, dep_objs, op = _resolve_scope(regions, departements, operateur)
    if role in (Role.REGIONAL,) and not region_objs:
        raise click.BadParameter("un agent régional a au moins une --region", param_hint="--region")
    if role in (Role.DEPARTEMENTAL,) and not dep_objs:
        raise click.BadParameter("un agent départemental a au moins un --departement",
                                 param_hint="--departement")
    if role is Role.OPERATEUR and op is None:
        raise click.BadParameter("un compte opérateur a un --operateur", param_hint="--operateur")

    for name, message in territory_errors([role.value], bool(region_objs), bool(dep_objs),
                                          op is not None).items():
        raise click.BadParameter(message, param_hint=f"--{name.rstrip('s')}")
    user = sm.find_user(username=login)
    if user is None:
        user = sm.user_model(username=login, active=True)
        db.session.add(user)
    user.first_name = first_name or user.first_name or login.capitalize()
    user.last_name = last_name or user.last_name or str(role.label)
    user.email = email or user.email or f"{login}@bhasile.invalid"
    user.password = generate_password_hash(password)
    user.roles = [role_obj]
    user.regions = region_objs
    user.departements = dep_objs
    user.operateur = op
    user.active = True
    db.session.commit()
    return user


@bhasile.command("create-user")
@click.argument("login")
@click.option("--role", "role_name", required=True,
              type=click.Choice([r.value for r in Role], case_sensitive=False))
@click.option("--region", "regions", multiple=True, help="Code INSEE de région (répétable).")
@click.option("--departement", "departements", multiple=True, help="Code de département (répétable).")
@click.option("--operateur", help="Nom exact de l'opérateur (compte opérateur).")
@click.option("--email")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard.")
def create_user_command(login, role_name, regions, departements, operateur, email, password_stdin):
    """Crée ou met à jour un compte, avec son rôle et son périmètre."""
    role = next(r for r in Role if r.value.lower() == role_name.lower())
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = secrets.token_urlsafe(12)
    create_or_update_user(login, role, password, regions, departements, operateur, email=email)
    click.echo(f"Compte « {login} » ({role.value}) prêt.")
    if not password_stdin:
        click.echo(f"Mot de passe : {password}")


@bhasile.command("demo-users")
@click.option("--regenerate", is_flag=True, help="Tirer de nouveaux mots de passe.")
@click.option("--quiet", is_flag=True, help="N'afficher que le fichier des comptes.")
def demo_users_command(regenerate: bool, quiet: bool) -> None:
    """Crée un compte de démonstration par rôle ; mots de passe conservés d'un lancement à
    l'autre dans instance/comptes-demo.txt (lisible par vous seul)."""
    path = demo_accounts.accounts_path(current_app)
    known = {} if regenerate else demo_accounts.read_passwords(path)
    made = create_demo_users(lambda: secrets.token_urlsafe(9), known)
    demo_accounts.write(path, made)
    click.echo(f"Comptes de démonstration enregistrés dans {path}"
               + (" (nouveaux mots de passe)." if regenerate or not known else "."))
    if not quiet:
        click.echo("\n".join(demo_accounts.lines(made)))


def create_demo_users(password: Callable[[], str], known: dict[str, str] | None = None
                      ) -> list[tuple[str, str, str, str | None]]:
    """One account per role of ``DEMO_USERS`` (the opérateur account on the biggest opérateur
    present in Calvados); returns (login, password, label, opérateur) for each account made. A
    password of ``known`` is kept (an account that already has it is left as it is: its
    sessions go on); the others are drawn from ``password()``."""
    from werkzeug.security import check_password_hash

    known = known or {}
    # the biggest opérateur among those of the demo agents' département (Calvados): the
    # opérateur account and the departmental agent then share structures
    in_calvados = (select(Structure.operateur_id).join(Departement)
                   .where(Departement.code == DEMO_USERS["calvados"][1]["departements"][0]))
    biggest = db.session.execute(
        select(Operateur.nom).join(Structure).where(Operateur.id.in_(in_calvados))
        .group_by(Operateur.id, Operateur.nom)
        .order_by(func.count(Structure.id).desc(), Operateur.nom).limit(1)).scalar()
    made = []
    for login, (role, scope, label) in DEMO_USERS.items():
        operateur = biggest if "operateur" in scope else None
        if role is Role.OPERATEUR and operateur is None:
            continue
        secret = known.get(login) or password()
        user = current_app.appbuilder.sm.find_user(username=login)
        unchanged = (user is not None and user.active and login in known and user.password
                     and check_password_hash(user.password, secret)
                     and (user.operateur.nom if user.operateur else None) == operateur)
        if not unchanged:
            create_or_update_user(login, role, secret, scope.get("regions", ()),
                                  scope.get("departements", ()), operateur)
        made.append((login, secret, label, operateur))
    return made


#: Modules of the higher layers that add their own ``flask bhasile`` commands to the group
#: above (found by name: app never imports them).
EXTENSION_MODULES = ("imports.cli", "exports.cli")


def init_app(app: Flask) -> None:
    import importlib
    import importlib.util

    for name in EXTENSION_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    if "bhasile" not in app.cli.commands:
        app.cli.add_command(bhasile)
