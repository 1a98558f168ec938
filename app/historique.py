"""The history as people read it: one entry per save, in words, values formatted in French.

``changement`` keeps one row per changed field (``app.audit``); this module groups the rows of
one save (same time, author, origin, batch and record) into an ``Entry`` titled like
« Finances 2026 : 3 champs modifiés par Prénom Nom », with its fields as ``Detail`` rows
(French labels, dates dd/mm/yyyy, amounts in euros, enum labels) and its origin in words
(« import n° 4 » with a link to the batch, « saisie en grille », « campagne … », « API »).
The journal, the fiche and the history export all read it from here.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import url_for
from flask_appbuilder import Model
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, Numeric, func, select

from app.extensions import db
from app.heures import paris_time
from app.jinja import fr_money, fr_number
from app.labels import LABELS, enum_label
from app.scope import condition_for
from models import BhasileUser, Changement, Departement, Operateur, Region, Structure
from models.campagne import SECTION_LABELS, Campagne, Tache, TacheCommentaire

#: What a record of each table is, for a reader.
ENTITY_LABELS = {
    "structure": _l("Fiche"), "places_annee": _l("Places"), "budget_annee": _l("Finances"),
    "activite_mensuelle": _l("Activité"), "adresse": _l("Adresse"),
    "adresse_annee": _l("Adresse (année)"), "contact": _l("Contact"), "controle": _l("Contrôle"),
    "evaluation": _l("Évaluation"), "eig": _l("EIG"), "convention": _l("Convention"),
    "convention_structure": _l("Structure de la convention"), "document": _l("Document"),
    "operateur": _l("Opérateur"), "campagne": _l("Campagne"), "tache": _l("Tâche de campagne"),
    "tache_commentaire": _l("Commentaire de campagne"), "ab_user": _l("Compte"),
}
#: Fields the shared labels do not name (foreign keys, campaign and account fields).
FIELD_LABELS = {
    "structure_id": _l("Structure"), "departement_id": _l("Département"),
    "operateur_id": _l("Opérateur"), "convention_id": _l("Convention"), "adresse_id": _l("Adresse"),
    "campagne_id": _l("Campagne"), "tache_id": _l("Tâche"), "parent_id": _l("Version précédente"),
    "periode_debut": _l("Début de période"), "periode_fin": _l("Fin de période"),
    "transmis_le": _l("Transmise le"), "valide_le": _l("Validée le"), "section": _l("Section"),
    "auteur": _l("Auteur"), "action": _l("Action"), "texte": _l("Texte"),
    "annees": _l("Années"), "feuilles": _l("Feuilles"), "echeance": _l("Échéance"),
    "ouverte_par": _l("Ouverte par"), "ouverte_le": _l("Ouverte le"),
    "cloturee_le": _l("Clôturée le"), "roles": _l("Rôles"), "regions": _l("Régions"),
    "departements": _l("Départements"), "active": _l("Actif"), **SECTION_LABELS,
}
#: Origins in words (``changement.origin``).
ORIGIN_LABELS = {
    "form": _l("formulaire"), "api": _l("API"), "import": _l("import"), "web": _l("import"),
    "grid": _l("saisie en grille"), "grid_undo": _l("annulation d'une saisie en grille"),
    "cli": _l("ligne de commande"), "job": _l("tâche planifiée"), "campagne": _l("campagne"),
    "droits": _l("droits par territoire"),
}
ACTION_LABELS = {"create": _l("Création"), "update": _l("Modification"), "delete": _l("Suppression"),
                 "login": _l("Connexion"), "login_failed": _l("Échec de connexion"),
                 "logout": _l("Déconnexion")}
_CAMPAIGN = {"campagne", "tache", "tache_commentaire"}
#: Bookkeeping shown on no entry: the link to the parent record, the comment's own stamp.
_HIDDEN = {"structure_id", "tache_id", "adresse_id", "campagne_id", "at", "username", "stockage"}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+)?\b")
#: The columns that make one save: rows sharing them are one entry.
GROUP = (Changement.at, Changement.username, Changement.origin, Changement.batch_id,
         Changement.action, Changement.entity, Changement.entity_id, Changement.structure_id)


@dataclass
class Detail:
    """One field of an entry: its label and its values before and after, formatted."""

    label: str
    old: str
    new: str
    field: str = ""


@dataclass
class Entry:
    """One save of one record: when, who, from where, and the fields it changed."""

    at: dt.datetime
    username: Optional[str]
    origin: str
    batch_id: Optional[int]
    action: str
    entity: str
    entity_id: Optional[int]
    structure_id: Optional[int]
    key: str = ""
    who: str = ""
    code_dna: str = ""
    origin_text: str = ""
    origin_url: Optional[str] = None
    details: list[Detail] = field(default_factory=list)

    @property
    def when(self) -> str:
        return paris_time(self.at)

    @property
    def record(self) -> str:
        """« Finances 2026 »: what was changed."""
        label = str(ENTITY_LABELS.get(self.entity, self.entity))
        return f"{label} {self.key}".strip()

    @property
    def summary(self) -> str:
        """« 3 champs modifiés par Prénom Nom »."""
        n, who = len(self.details), self.who or _("un utilisateur inconnu")
        if self.action == "update":
            return ngettext("%(num)s champ modifié par %(who)s", "%(num)s champs modifiés par %(who)s",
                            n, who=who)
        if self.action == "create":
            return _("création par %(who)s", who=who)
        if self.action == "delete":
            return _("suppression par %(who)s", who=who)
        return f"{ACTION_LABELS.get(self.action, self.action)} — {who}"

    @property
    def title(self) -> str:
        if self.action in ("login", "login_failed", "logout"):
            return self.summary
        return f"{self.record} : {self.summary}"


class Formatter:
    """Stored history text → French text, with the names of the records it points to."""

    def __init__(self, scope: Any = None):
        self.scope = scope
        self._names: dict[tuple[str, int], str] = {}

    def value(self, entity: str, name: str, raw: Optional[str]) -> str:
        if raw is None or not raw.strip():
            return "–"
        table = Model.metadata.tables.get(entity)
        column = table.c.get(name) if table is not None else None
        if column is None:
            return raw
        kind = column.type
        try:
            if isinstance(kind, DateTime):
                return paris_time(dt.datetime.fromisoformat(raw))
            if isinstance(kind, Date):
                return dt.date.fromisoformat(raw[:10]).strftime("%d/%m/%Y")
            if isinstance(kind, Enum) and kind.enum_class is not None:
                return str(enum_label(kind.enum_class, raw))
            if isinstance(kind, Boolean):
                return raw
            if isinstance(kind, Numeric):
                if kind.precision == 14:  # models.base.Money
                    return fr_money(raw)
                decimals = len(raw.partition(".")[2].rstrip("0"))
                return fr_number(raw, decimals)
            if isinstance(kind, Integer):
                if column.foreign_keys:
                    return self._name(next(iter(column.foreign_keys)).column.table.name, int(raw))
                return raw if "annee" in name or name == "numero" else fr_number(raw)
        except (ValueError, ArithmeticError):
            return raw
        return raw

    def _name(self, table: str, ident: int) -> str:
        """What a reference is called: a département's code and name, an opérateur's name
        (only inside the reader's scope: another territory's records stay « n° 12 »)."""
        if (table, ident) not in self._names:
            name = None
            if table == "departement":
                row = db.session.get(Departement, ident)
                name = f"{row.code} {row.nom}" if row is not None else None
            elif table == "region":
                row = db.session.get(Region, ident)
                name = row.nom if row is not None else None
            elif table in ("operateur", "structure"):
                model = Operateur if table == "operateur" else Structure
                label = Operateur.nom if table == "operateur" else Structure.code_dna
                cond = condition_for(model, self.scope) if self.scope is not None else True
                name = db.session.scalar(select(label).where(model.id == ident, cond))
            self._names[(table, ident)] = name or _("n° %(n)s", n=ident)
        return self._names[(table, ident)]

    def key(self, entity: str, key: Optional[str], entity_id: Optional[int]) -> str:
        """The record's key, dates in French; an internal id says nothing and is dropped."""
        if not key or (entity_id is not None and key == str(entity_id)):
            return ""
        if entity == "activite_mensuelle":
            return _ISO_DATE.sub(lambda m: f"{m[2]}/{m[1]}", key)
        return _ISO_DATE.sub(lambda m: f"{m[3]}/{m[2]}/{m[1]}", key)

    def detail(self, row: Changement) -> Detail:
        label = FIELD_LABELS.get(row.field) or LABELS.get(row.field) or row.field
        return Detail(str(label), self.value(row.entity, row.field, row.old_value),
                      self.value(row.entity, row.field, row.new_value), row.field)


def count_entries(where: Any) -> int:
    """How many saves the rows matching ``where`` make."""
    groups = select(*GROUP).where(where).group_by(*GROUP).subquery()
    return db.session.scalar(select(func.count()).select_from(groups)) or 0


def entries(where: Any, offset: int = 0, limit: int = 50, scope: Any = None) -> list[Entry]:
    """The saves matching ``where``, newest first, each with its fields."""
    last = func.max(Changement.id).label("last")
    heads = db.session.execute(select(*GROUP, last).where(where).group_by(*GROUP)
                               .order_by(Changement.at.desc(), last.desc())
                               .offset(offset).limit(limit)).all()
    if not heads:
        return []
    found = {tuple(h[:len(GROUP)]): Entry(*h[:len(GROUP)]) for h in heads}
    # the rows of these saves: those of their time span (an IN list of times would hit the
    # parameter limit of a big export); rows of other saves in the span are left out below
    span = Changement.at.between(min(h.at for h in heads), max(h.at for h in heads))
    rows = db.session.scalars(select(Changement).where(where, span).order_by(Changement.id)).all()
    fmt = Formatter(scope)
    for row in rows:
        entry = found.get(tuple(getattr(row, c.key) for c in GROUP))
        if entry is None:
            continue
        entry.key = entry.key or fmt.key(row.entity, row.key, row.entity_id)
        if row.field and not (entry.action != "update" and row.field in _HIDDEN):
            entry.details.append(fmt.detail(row))
    _describe(list(found.values()))
    return list(found.values())


def _describe(items: list[Entry]) -> None:
    """Authors' names, structures' codes and origins in words, in a few queries per page."""
    logins = {e.username for e in items if e.username}
    names = {u: f"{p or ''} {n or ''}".strip() for u, p, n in db.session.execute(
        select(BhasileUser.username, BhasileUser.first_name, BhasileUser.last_name)
        .where(BhasileUser.username.in_(logins)))} if logins else {}
    sids = {e.structure_id for e in items if e.structure_id}
    codes = dict(db.session.execute(select(Structure.id, Structure.code_dna)
                                    .where(Structure.id.in_(sids))).all()) if sids else {}
    campaigns = _campaigns([e for e in items if e.entity in _CAMPAIGN])
    for e in items:
        e.who = names.get(e.username) or e.username or str(ORIGIN_LABELS.get(e.origin, e.origin))
        e.code_dna = codes.get(e.structure_id, "")
        e.origin_text, e.origin_url = origin_of(e, campaigns.get((e.entity, e.entity_id)))


def origin_of(e: Entry, campagne: Optional[Campagne] = None) -> tuple[str, Optional[str]]:
    """« import n° 4 » and the batch's page; « campagne … » and its board; else the origin."""
    if e.origin in ("import", "web", "cli") and e.batch_id:
        return _("import n° %(n)s", n=e.batch_id), url_for("ImportView.show", batch_id=e.batch_id)
    if e.origin == "grid" and e.batch_id:
        return _("saisie en grille n° %(n)s", n=e.batch_id), None
    if e.origin == "grid_undo" and e.batch_id:
        return _("annulation de la saisie en grille n° %(n)s", n=e.batch_id), None
    if campagne is not None:
        return _("campagne « %(c)s »", c=campagne.nom), url_for("CampagneView.tableau", pk=campagne.id)
    return str(ORIGIN_LABELS.get(e.origin, e.origin)), None


def _campaigns(items: list[Entry]) -> dict[tuple[str, int], Campagne]:
    """The campaign of each campaign, task or comment entry, by (table, id)."""
    found: dict[tuple[str, int], Campagne] = {}
    tache_ids = {e.entity_id for e in items if e.entity == "tache" and e.entity_id}
    comment_ids = {e.entity_id for e in items if e.entity == "tache_commentaire" and e.entity_id}
    for cid in {e.entity_id for e in items if e.entity == "campagne" and e.entity_id}:
        if (c := db.session.get(Campagne, cid)) is not None:
            found[("campagne", cid)] = c
    if tache_ids:
        for tid, c in db.session.execute(select(Tache.id, Campagne).join(Campagne, Tache.campagne_id == Campagne.id)
                                         .where(Tache.id.in_(tache_ids))):
            found[("tache", tid)] = c
    if comment_ids:
        for tid, c in db.session.execute(
                select(TacheCommentaire.id, Campagne).join(Tache, TacheCommentaire.tache_id == Tache.id)
                .join(Campagne, Tache.campagne_id == Campagne.id).where(TacheCommentaire.id.in_(comment_ids))):
            found[("tache_commentaire", tid)] = c
    return found
