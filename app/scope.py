"""THE territory rule: who sees and changes which records.

One function turns a user into a ``Scope``; ``scoped(query_model, scope)`` turns a scope into
a SQL condition for any domain model. Views, the REST API, exports, imports, the grid and the
dashboards all go through here, so a record outside a user's territory is simply not found.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from flask import g, has_request_context
from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from models import (ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, Changement, Contact,
                    Controle, Convention, ConventionStructure, Departement, DialogueBudgetaire,
                    DialogueLigne, Document, Eig,
                    Evaluation, Operateur, PlacesAnnee, Region, Structure)
from models.campagne import Campagne, campagne_departement, Tache, TacheCommentaire
from models.enums import Role
from models.vue import VueEnregistree as V

NATIONAL_ROLES = {Role.ADMIN.value, Role.CENTRAL.value}
EDITOR_ROLES = {Role.ADMIN.value, Role.CENTRAL.value, Role.REGIONAL.value, Role.DEPARTEMENTAL.value}


@dataclass(frozen=True)
class Scope:
    """A territory: national, or a set of régions/départements, or one opérateur."""

    national: bool = False
    region_ids: frozenset[int] = field(default_factory=frozenset)
    departement_ids: frozenset[int] = field(default_factory=frozenset)
    operateur_id: Optional[int] = None
    roles: frozenset[str] = field(default_factory=frozenset)
    #: the user it is the scope of: their own records (saved views) are theirs whatever the
    #: territory (``None``: the CLI, a job, a scope rebuilt from an export's parameters)
    user_id: Optional[int] = field(default=None, compare=False)

    @property
    def is_operateur(self) -> bool:
        return Role.OPERATEUR.value in self.roles and not (self.roles & EDITOR_ROLES)

    @property
    def read_only(self) -> bool:
        return not (self.roles & (EDITOR_ROLES | {Role.OPERATEUR.value}))


NATIONAL = Scope(national=True, roles=frozenset({Role.ADMIN.value}))
NOWHERE = Scope()


def scope_params(scope: Scope) -> dict:
    """A scope as JSON values (a background job carries it, to compare only)."""
    return {"national": scope.national, "region_ids": sorted(scope.region_ids),
            "departement_ids": sorted(scope.departement_ids), "operateur_id": scope.operateur_id,
            "roles": sorted(scope.roles)}


def scope_from(params: dict) -> Scope:
    return Scope(national=params["national"], region_ids=frozenset(params["region_ids"]),
                 departement_ids=frozenset(params["departement_ids"]),
                 operateur_id=params["operateur_id"], roles=frozenset(params["roles"]))


def scope_of(user: Any) -> Scope:
    """The scope of a user; an anonymous or unknown user sees nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOWHERE
    roles = frozenset(r.name for r in (user.roles or []))
    regions = frozenset(r.id for r in getattr(user, "regions", []) or [])
    deps = frozenset(d.id for d in getattr(user, "departements", []) or [])
    operateur_id = getattr(user, "operateur_id", None)
    user_id = getattr(user, "id", None)
    if roles & NATIONAL_ROLES:
        return Scope(national=True, roles=roles, user_id=user_id)
    if Role.OPERATEUR.value in roles and not (roles & EDITOR_ROLES):
        return Scope(operateur_id=operateur_id, roles=roles, user_id=user_id)
    if Role.LECTEUR.value in roles and not (roles & EDITOR_ROLES) and not (regions or deps or operateur_id):
        return Scope(national=True, roles=roles, user_id=user_id)  # a reader with no territory reads the nation
    return Scope(region_ids=regions, departement_ids=deps, operateur_id=operateur_id, roles=roles,
                 user_id=user_id)


def current_scope() -> Scope:
    """The scope of the request's user; nothing outside a request: the CLI and the jobs pass
    ``NATIONAL`` (or a user's scope) explicitly instead of getting it silently."""
    if not has_request_context():
        return NOWHERE
    return scope_of(getattr(g, "user", None))


def find_inside(session: Any, model: type, ident: Any, scope: Scope) -> Any:
    """The record ``ident`` of ``model`` if ``scope`` reads it, else ``None`` — an id that is
    no id (text, out of range) included: the caller answers 404 and says nothing of the row."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident < 2 ** 63:
        return None
    return session.scalar(select(model).where(model.id == ident, condition_for(model, scope)))


def structure_condition(scope: Scope) -> ColumnElement[bool]:
    """SQL condition on ``Structure`` for the structures inside the scope."""
    if scope.national:
        return true()
    conditions = []
    if scope.departement_ids:
        conditions.append(Structure.departement_id.in_(sorted(scope.departement_ids)))
    if scope.region_ids:
        deps = select(Departement.id).where(Departement.region_id.in_(sorted(scope.region_ids)))
        conditions.append(Structure.departement_id.in_(deps))
    if scope.operateur_id is not None and scope.is_operateur:
        conditions.append(Structure.operateur_id == scope.operateur_id)
    return or_(*conditions) if conditions else false()


def structure_ids(scope: Scope):
    """Sub-select of the ids of the structures in scope."""
    return select(Structure.id).where(structure_condition(scope))


#: Models attached to one structure through ``structure_id``.
_BY_STRUCTURE = (PlacesAnnee, BudgetAnnee, ActiviteMensuelle, Adresse, Contact, Controle,
                 Evaluation, Eig, ConventionStructure, DialogueBudgetaire)


#: Tables of user data: a row belongs to its owner first, whatever the territory, so even a
#: national scope does not reach every row (the gate asks, never assumes, for these).
PERSONAL_TABLES = ("vue_enregistree",)


def personal(model: type) -> bool:
    """Is ``model`` user data (a national scope does not hold all its rows)?"""
    return getattr(model, "__tablename__", None) in PERSONAL_TABLES


def condition_for(model: type, scope: Scope) -> ColumnElement[bool]:
    """SQL condition selecting the rows of ``model`` inside ``scope``."""
    if personal(model):
        return _vue_condition(scope)
    if scope.national:
        return true()
    if model is Structure:
        return structure_condition(scope)
    if model in _BY_STRUCTURE:
        return model.structure_id.in_(structure_ids(scope))
    if model is AdresseAnnee:
        return AdresseAnnee.adresse_id.in_(
            select(Adresse.id).where(Adresse.structure_id.in_(structure_ids(scope))))
    if model is Operateur:
        if scope.is_operateur:
            return Operateur.id == scope.operateur_id if scope.operateur_id else false()
        return Operateur.id.in_(select(Structure.operateur_id).where(structure_condition(scope)))
    if model is Convention:
        covered = select(ConventionStructure.convention_id).where(
            ConventionStructure.structure_id.in_(structure_ids(scope)))
        if scope.is_operateur:
            return or_(Convention.id.in_(covered), Convention.operateur_id == scope.operateur_id)
        return Convention.id.in_(covered)
    if model is Document:
        return or_(
            Document.structure_id.in_(structure_ids(scope)),
            Document.convention_id.in_(select(Convention.id).where(condition_for(Convention, scope))),
            Document.operateur_id.in_(select(Operateur.id).where(condition_for(Operateur, scope))),
        )
    if model is DialogueLigne:  # a line of a budget dialogue: its dialogue's structure
        return DialogueLigne.dialogue_id.in_(
            select(DialogueBudgetaire.id).where(condition_for(DialogueBudgetaire, scope)))
    if model is Changement:
        return Changement.structure_id.in_(structure_ids(scope))
    if model in (Departement, Region):
        return _territory_condition(model, scope)
    if getattr(model, "__tablename__", None) in _CAMPAGNE_TABLES:
        return _campagne_condition(model, scope)
    return false()  # a model without a territory rule is invisible outside the national scope


_CAMPAGNE_TABLES = ("campagne", "tache", "tache_commentaire")
_RULED = {Structure, *_BY_STRUCTURE, DialogueLigne, AdresseAnnee, Operateur, Convention, Document, Changement,
          Departement, Region}


def _vue_condition(scope: Scope) -> ColumnElement[bool]:
    """Saved views a user reads: their own; those shared with a territory their own covers or
    equals (a national view with national users, a région's with its région's and national
    users, a département's with its agents, its région's and national users, an opérateur's
    with that opérateur's accounts and national users); the defaults of their roles."""
    if scope.user_id is None:
        return false()
    shared: list = []
    if scope.national:
        shared.append(true())   # the nation covers every territory
    else:
        if scope.region_ids:
            regions = sorted(scope.region_ids)
            shared.append(V.region_id.in_(regions))
            shared.append(V.departement_id.in_(select(Departement.id).where(
                Departement.region_id.in_(regions))))
        if scope.departement_ids:
            shared.append(V.departement_id.in_(sorted(scope.departement_ids)))
        if scope.is_operateur and scope.operateur_id is not None:
            shared.append(V.operateur_id == scope.operateur_id)
    defaults = V.role_defaut.in_(sorted(scope.roles)) if scope.roles else false()
    return or_(V.owner_id == scope.user_id, and_(V.partagee.is_(True), or_(*shared)), defaults)


def _own_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """User data a user may change or delete: their own rows only."""
    return model.owner_id == scope.user_id if scope.user_id is not None else false()


def writable_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """SQL condition on the rows of ``model`` the scope may change: those it reads, except a
    campaign, which only a user whose territory holds all its départements may change (a
    département agent reads a national campaign, but does not close it), and user data (a
    saved view), which only its owner changes."""
    if personal(model):
        return _own_condition(model, scope)
    if scope.national or getattr(model, "__tablename__", None) != "campagne":
        return condition_for(model, scope)

    if scope.is_operateur:
        return false()
    deps = select(Departement.id).where(_territory_condition(Departement, scope))
    foreign = select(campagne_departement.c.campagne_id).where(
        campagne_departement.c.departement_id.not_in(deps))
    return (condition_for(model, scope)) & model.id.not_in(foreign)


def deletable_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """SQL condition on the rows of ``model`` the scope may delete: those it may change, except
    a convention, deleted only by a territory holding every structure it covers (a CPOM
    spanning régions is not one agent's to delete)."""
    if personal(model) or scope.national or model is not Convention:
        return writable_condition(model, scope)
    foreign = select(ConventionStructure.convention_id).where(
        ConventionStructure.structure_id.not_in(structure_ids(scope)))
    return condition_for(Convention, scope) & Convention.id.not_in(foreign)


def choosable_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """SQL condition on the rows of ``model`` a user may link a record to (drop-downs and the
    write gate): those of the territory, and for an agent the opérateurs not yet running any
    structure (a new association taking over a structure)."""
    if scope.national or model is not Operateur or scope.is_operateur:
        return condition_for(model, scope)
    unused = ~exists().where(Structure.operateur_id == Operateur.id)
    return or_(condition_for(Operateur, scope), unused)


def _territory_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """Départements or régions a user may pick (drop-downs): their own territory."""
    if scope.is_operateur:
        deps = select(Structure.departement_id).where(structure_condition(scope))
        if model is Departement:
            return Departement.id.in_(deps)
        return Region.id.in_(select(Departement.region_id).where(Departement.id.in_(deps)))
    dep_cond = or_(Departement.id.in_(sorted(scope.departement_ids)),
                   Departement.region_id.in_(sorted(scope.region_ids)))
    if model is Departement:
        return dep_cond
    return Region.id.in_(select(Departement.region_id).where(dep_cond))


def _campagne_condition(model: type, scope: Scope) -> ColumnElement[bool]:
    """Campaign rows: the tasks of the structures in scope; a campaign when one of its tasks
    is in scope or (agents) one of its départements is in the territory."""
    tasks = Tache.structure_id.in_(structure_ids(scope))
    if model is Tache:
        return tasks
    if model is TacheCommentaire:
        return TacheCommentaire.tache_id.in_(select(Tache.id).where(tasks))
    with_task = Campagne.id.in_(select(Tache.campagne_id).where(tasks))
    if scope.is_operateur:
        return with_task
    deps = select(Departement.id).where(_territory_condition(Departement, scope))
    return or_(with_task, Campagne.id.in_(select(campagne_departement.c.campagne_id).where(
        campagne_departement.c.departement_id.in_(deps))))
