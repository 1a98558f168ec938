"""THE write gate: the one place that decides whether a user may write a record.

Every path that writes — forms, the REST API, the grid, the web and CLI imports, campaign
uploads and actions, conventions, documents — describes its write and asks the gate:

    gate = Gate(scope)
    errors = gate.check(Structure, stored=item, values={"operateur_id": 12}, version=3)

``stored`` is the record as stored (an ORM object, a mapping or a namespace; ``None`` for a
creation), ``values`` the fields the write sets, by model attribute (``departement_id``) or
many-to-one relationship name (``departement``, given an object or an id), and ``version``
the version the user loaded (``UNCHECKED`` when the path checks versions itself, as the
import does with its preview's signature). The answer lists every reason to refuse, in this
order, each a ``Denial`` with its HTTP status and a French message:

1. may this role write this area (403);
2. is the stored row inside the territory (404: nothing else is said about it);
3. is the row still inside after the change — no moving in or out (422);
4. is every related row (opérateur, convention, structure, address, département) inside (422);
5. may this role change these fields — the State's decisions for an opérateur (403);
6. the domain rules of ``app.rules`` (422);
7. the version: missing (428) or outdated (409).

Whether a row is inside is always asked of ``app.scope`` (``condition_for`` and
``choosable_condition``), so the gate holds no second copy of the territory rule.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select

from app.extensions import db
from app.locking import parse_version, stale_message
from app.roles import MODEL_AREAS, USER_DATA_AREAS, may_write
from app.rules import RuleError, validate
from app.scope import (Scope, choosable_condition, condition_for, deletable_condition, personal,
                       writable_condition)
from models import AdresseAnnee, Document, Structure
from models.enums import Role

#: The version check is done by the path itself (a batch with its own signature).
UNCHECKED = object()
_CHUNK = 5000

#: Fields holding the State's decisions, by table: an opérateur never sets nor changes them
#: (capacity, authorisation and convention dates, granted funding). Operators propose
#: changes through campaigns.
STATE_FIELDS: dict[str, frozenset[str]] = {
    "budget_annee": frozenset({"dotation_accordee", "reprise_etat"}),
    "places_annee": frozenset({"places_autorisees", "places_a_creer", "places_a_fermer",
                               "echeance_places_a_creer", "echeance_places_a_fermer"}),
    "adresse_annee": frozenset({"places_autorisees"}),
    "activite_mensuelle": frozenset({"places_autorisees"}),
    "structure": frozenset({"departement_id", "operateur_id", "type", "code_dna",
                            "debut_autorisation", "fin_autorisation", "debut_convention",
                            "fin_convention", "date_303"}),
    "convention": frozenset({"statut", "date_debut", "date_fin", "montant", "operateur_id"}),
    # the budget dialogue: the State's proposals, its deadlines and its decision
    "dialogue_budgetaire": frozenset({"structure_id", "annee", "echeance_depot", "delai_reponse",
                                      "echeance_reponse", "propose_le", "propose_par", "decide_le",
                                      "decide_par", "dotation_accordee", "numero", "document_id",
                                      # the compte administratif: the agent settles the affectation
                                      "echeance_ca", "affectation_retenue", "motif_affectation",
                                      "ca_arrete_le", "ca_arrete_par", "avenant_document_id"}),
    "dialogue_ligne": frozenset({"propose", "motif", "retenu"}),
}
#: The relations that place a row in the territory (one of them at least is set on a
#: creation); changing one moves the row. Default: ``structure_id`` when the model has it.
ANCHORS: dict[type, tuple[str, ...]] = {
    Structure: ("departement_id",), AdresseAnnee: ("adresse_id",),
    Document: ("structure_id", "convention_id", "operateur_id"),
}


#: Fields only an administrator sets, by table: the default view of a role.
ADMIN_FIELDS: dict[str, frozenset[str]] = {"vue_enregistree": frozenset({"role_defaut"})}


def may_change(scope: Scope, area: Optional[str]) -> bool:
    """May this scope's role write records of ``area`` at all (the gate's first rule; pages use
    it to show what is editable)? A read-only role still keeps its own user data (saved views)."""
    return (area is not None and (not scope.read_only or area in USER_DATA_AREAS)
            and may_write(scope, area))


def reserved_fields(scope: Scope, model: type) -> frozenset[str]:
    """The attributes of ``model`` this scope never sets nor changes: the State's decisions,
    for an opérateur (pages use it to lock those cells)."""
    return STATE_FIELDS.get(model.__tablename__, frozenset()) if scope.is_operateur else frozenset()


@dataclass(frozen=True)
class Denial(RuleError):
    """One reason the gate refuses a write: a ``RuleError`` with its HTTP status."""

    status: int = 422


class WriteRefused(Exception):
    """A write the gate refused: every ``Denial``; ``status`` is the first one's."""

    def __init__(self, errors: list[RuleError]):
        super().__init__(" ; ".join(e.message for e in errors))
        self.errors = errors

    @property
    def status(self) -> int:
        return getattr(self.errors[0], "status", 422) if self.errors else 422


def status_of(errors: list[RuleError]) -> int:
    """The HTTP status a list of refusals answers with (the first one's)."""
    return getattr(errors[0], "status", 422) if errors else 200


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return getattr(a, "value", a) == getattr(b, "value", b)


def _get(stored: Any, name: str) -> Any:
    if stored is None:
        return None
    if isinstance(stored, Mapping):
        return stored.get(name)
    return getattr(stored, name, None)


class _Relations:
    """A model's many-to-one relations: name and foreign-key attribute → (fk attribute, model)."""

    _cache: dict[type, dict[str, tuple[str, type]]] = {}

    @classmethod
    def of(cls, model: type) -> dict[str, tuple[str, type]]:
        found = cls._cache.get(model)
        if found is None:
            found = {}
            mapper = inspect(model)
            for rel in mapper.relationships:
                if rel.uselist or len(rel.local_columns) != 1:
                    continue
                column = next(iter(rel.local_columns))
                fk = mapper.get_property_by_column(column).key
                found[rel.key] = found[fk] = (fk, rel.mapper.class_)
            cls._cache[model] = found
        return found


def _ident(value: Any) -> Any:
    """An id from a relation value: an ORM object, an id, or ``None``."""
    if value is None or value == "":
        return None
    if hasattr(value, "__table__"):
        return inspect(value).identity[0] if inspect(value).identity else getattr(value, "id", None)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else value


class Gate:
    """The write checks of one user (``scope``), with what it learnt of the territory cached:
    build one per request, import or batch, then ``check`` each write."""

    def __init__(self, scope: Scope, session: Any = None, new_ids: Optional[dict[type, set]] = None):
        self.scope = scope
        self.session = session or db.session
        #: ids (or keys) of records the same batch creates: references to them are allowed,
        #: their own creation being checked by the gate.
        self.new_ids = new_ids or {}
        self._inside: dict[tuple[str, type], dict[Any, bool]] = {}
        #: (kind, model) → the territory's ids, once read whole for a big batch: the next
        #: batches (an import's next chunk of rows) are answered without a query
        self._whole: dict[tuple[str, type], set] = {}
        self._may: dict[Optional[str], bool] = {}   #: area → may this role write it
        self._outside: Optional[str] = None         #: ``outside``'s message, translated

    # --- territory -------------------------------------------------------------------------
    def _member(self, kind: str, model: type, ids: Iterable[Any]) -> dict[Any, bool]:
        known = self._inside.setdefault((kind, model), {})
        todo = {i for i in ids if i is not None and i not in known}
        if not todo:   # all known: no condition to build (a batch asks once per row)
            return known
        if self.scope.national and not personal(model):
            known.update(dict.fromkeys(todo, True))
            return known
        whole = self._whole.get((kind, model))
        if whole is not None:
            known.update((i, i.__class__ is int and i in whole) for i in todo)
            return known
        try:           # ids in order, for chunks always alike (by text when of mixed types)
            todo = sorted(todo)
        except TypeError:
            todo = sorted(todo, key=str)
        # an id no INTEGER column can hold names no record (and would overflow the driver)
        numeric = [i for i in todo if isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31]
        for i in todo:
            known[i] = False
        condition = self.condition(model, kind)
        if len(numeric) > _CHUNK:   # a big batch: the territory's ids in one query, not one per chunk
            whole = self._whole[(kind, model)] = set(
                self.session.scalars(select(model.id).where(condition)))
            known.update((i, True) for i in numeric if i in whole)
            return known
        for start in range(0, len(numeric), _CHUNK):
            chunk = numeric[start:start + _CHUNK]
            for found in self.session.scalars(select(model.id).where(model.id.in_(chunk), condition)):
                known[found] = True
        return known

    def condition(self, model: type, kind: str = "read") -> Any:
        """The SQL condition on the rows of ``model`` that ``inside`` answers True for (read,
        write, delete or choose), for a query that must return only those: ``inside`` and it
        are one rule (the records a batch creates aside, never stored rows)."""
        return {"read": condition_for, "write": writable_condition,
                "delete": deletable_condition, "choose": choosable_condition}[kind](model, self.scope)

    def outside(self) -> Denial:
        """The refusal of a stored row outside the territory: 404, nothing else said of it
        (its message translated once: a batch refuses thousands of rows)."""
        if self._outside is None:
            self._outside = _("Enregistrement introuvable ou hors de votre périmètre.")
        return Denial(None, self._outside, 404)

    def inside(self, model: type, ident: Any, kind: str = "read") -> bool:
        """Is the record ``ident`` of ``model`` inside the territory (``kind``: read, write,
        or choose — may be picked as a relation)?"""
        if ident is None:
            return False
        if (self.scope.national and not personal(model)) or ident in self.new_ids.get(model, ()):
            return True
        known = self._inside.get((kind, model))
        if known is not None and ident in known:
            return known[ident]
        return self._member(kind, model, [ident]).get(ident, False)

    def preload(self, model: type, ids: Iterable[Any], kind: str = "read") -> None:
        """Ask once for many ids (an import's rows) instead of once per row."""
        if not self.scope.national or personal(model):   # the nation holds every row: nothing to ask
            self._member(kind, model, ids)

    # --- the check --------------------------------------------------------------------------
    def check(self, model: type, stored: Any = None, values: Optional[Mapping[str, Any]] = None,
              version: Any = UNCHECKED, related: Optional[Mapping[type, Iterable[Any]]] = None,
              rules: bool = True, area: Optional[str] = None) -> list[RuleError]:
        """Every reason to refuse this write (empty: it may go ahead). See the module's doc.

        ``related`` names further records the write links (a convention's structures);
        ``rules=False`` when the path runs ``app.rules`` itself on other values; ``area`` names
        the right an action needs when it is not the table's (a campaign's review). Nothing is
        flushed meanwhile: a record a form or an API call changed in memory is checked, never
        written by the check's own queries.
        """
        with self.session.no_autoflush:
            return self._check(model, stored, values, version, related, rules, area)

    def _check(self, model, stored, values, version, related, rules, area) -> list[RuleError]:
        values = dict(values or {})
        if not self._may_change(area or MODEL_AREAS.get(model.__tablename__)):
            return [Denial(None, _("Votre rôle ne permet pas de modifier ces données."), 403)]
        hidden = self.hidden(model, stored)
        if hidden:
            return hidden
        changed = self._changed(model, stored, values)
        errors = self._territory(model, stored, changed, related or {})
        errors += self._fields(model, changed)
        if rules:
            current = stored if not isinstance(stored, Mapping) else SimpleNamespace(**stored)
            errors += validate(model, values, current)
        if stored is not None and version is not UNCHECKED and hasattr(model, "version"):
            errors += self._version(model, stored, version)
        return errors

    def _may_change(self, area: Optional[str]) -> bool:
        """``may_change`` of this gate's scope, asked once per area (a batch checks each row)."""
        found = self._may.get(area)
        if found is None:
            found = self._may[area] = may_change(self.scope, area)
        return found

    def check_delete(self, model: type, stored: Any, area: Optional[str] = None) -> list[RuleError]:
        """Every reason to refuse deleting ``stored``: the role's area (403), the row inside the
        territory the role may delete in (404)."""
        if not may_change(self.scope, area or MODEL_AREAS.get(model.__tablename__)):
            return [Denial(None, _("Votre rôle ne permet pas de supprimer ces données."), 403)]
        if not self.inside(model, _get(stored, "id"), "delete"):
            return [self.outside()]
        return []

    def require(self, model: type, stored: Any = None, values: Optional[Mapping[str, Any]] = None,
                version: Any = UNCHECKED, related: Optional[Mapping[type, Iterable[Any]]] = None,
                rules: bool = True, area: Optional[str] = None) -> None:
        """``check``, raising ``WriteRefused`` with every reason when the write is refused."""
        errors = self.check(model, stored, values, version, related, rules, area)
        if errors:
            raise WriteRefused(errors)

    def hidden(self, model: type, stored: Any) -> list[RuleError]:
        """Step 2 alone: the stored row is outside the territory (404, nothing else said of
        it). A batch asks it of the rows it leaves unchanged: they are refused too."""
        stored_id = _get(stored, "id")
        if stored is not None and stored_id is not None and not self.inside(model, stored_id, "write"):
            return [self.outside()]
        return []

    def _changed(self, model: type, stored: Any, values: dict) -> dict[str, tuple[str, Any]]:
        """Attribute → (the key the caller used, new value) for the fields this write changes;
        relations by their foreign-key attribute and id."""
        relations = _Relations.of(model)
        out: dict[str, tuple[str, Any]] = {}
        for key, value in values.items():
            attr, new = key, value
            if key in relations:
                attr, _related = relations[key]
                new = _ident(value)
            if stored is None:
                if new not in (None, ""):
                    out[attr] = (key, new)
            elif not _same(_get(stored, attr), new):
                out[attr] = (key, new)
        return out

    def _territory(self, model: type, stored: Any, changed: dict, related: Mapping) -> list[RuleError]:
        errors: list[RuleError] = []
        relations = _Relations.of(model)
        anchors = _anchors(model, relations)
        for attr, (key, new) in changed.items():
            if attr not in relations:
                continue
            target = relations[attr][1]
            if new is not None and self.inside(target, new, "choose"):
                continue
            if attr in anchors:
                if new is not None or len(anchors) == 1:
                    errors.append(Denial(key, _("Cet enregistrement sortirait de votre périmètre.")))
            elif new is not None:
                errors.append(Denial(key, _outside(target)))
        if stored is None and anchors and not self.scope.national \
                and not any(changed.get(a, (None, None))[1] is not None for a in anchors):
            errors.append(Denial(None, _("Cet enregistrement sortirait de votre périmètre.")))
        for target, ids in related.items():
            if any(not self.inside(target, i, "choose") for i in ids):
                errors.append(Denial(None, _outside(target)))
        return errors

    def _fields(self, model: type, changed: dict) -> list[RuleError]:
        state = reserved_fields(self.scope, model)
        errors = [Denial(key, _("Champ réservé aux services de l'État : un opérateur ne peut pas le "
                                "modifier."), 403)
                  for attr, (key, _new) in changed.items() if attr in state]
        if Role.ADMIN.value not in self.scope.roles:
            admin = ADMIN_FIELDS.get(model.__tablename__, frozenset())
            errors += [Denial(key, _("Seul un administrateur peut définir la vue par défaut d'un "
                                     "rôle."), 403)
                       for attr, (key, _new) in changed.items() if attr in admin]
        return errors

    def _version(self, model: type, stored: Any, version: Any) -> list[RuleError]:
        loaded = version if isinstance(version, int) and not isinstance(version, bool) \
            else parse_version(version)
        if loaded is None:
            return [Denial(None, _("Version de la fiche absente ou illisible : rechargez la page "
                                   "avant d'enregistrer (rien n'a été écrit)."), 428)]
        if int(loaded) != int(_get(stored, "version")):
            if isinstance(stored, Mapping):
                stored = SimpleNamespace(**stored)
            return [Denial(None, stale_message(stored, loaded, model), 409)]
        return []


_RELATION_LABELS = {
    "structure": _l("La structure"), "operateur": _l("L'opérateur"),
    "convention": _l("La convention"), "adresse": _l("L'adresse"),
    "departement": _l("Le département"), "region": _l("La région"), "document": _l("Le document"),
}


def _outside(target: type) -> str:
    what = _RELATION_LABELS.get(target.__tablename__, _l("La ligne liée"))
    return _("%(what)s est hors de votre périmètre.", what=what)


def _anchors(model: type, relations: dict) -> tuple[str, ...]:
    if model in ANCHORS:
        return ANCHORS[model]
    return ("structure_id",) if "structure_id" in relations else ()
