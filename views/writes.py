"""The checks every form and API write goes through: version, field rights, domain rules.

One sequence for both paths: (1) refuse a save based on an outdated version (optimistic
locking), (2) refuse fields the user's role may not change, (3) run ``app.rules`` and
collect every error on its field. Scope is checked by the views' ``pre_add``/``pre_update``.
"""
from __future__ import annotations

from typing import Any
from typing import Optional as Maybe

from flask import flash
from flask_appbuilder.fields import EnumField
from flask_babel import gettext as _
from sqlalchemy import inspect
from wtforms.validators import Optional

from app.locking import is_stale, parse_version, stale_message
from app.rules import RuleError, transition_error, validate, values_of
from app.scope import current_scope
from models.base import Versioned

#: Hidden form field carrying the version the user loaded.
VERSION_FIELD = "version_chargee"
#: Fields holding the State's decisions: an opérateur never changes them.
STATE_FIELDS = {"budget_annee": {"dotation_accordee", "reprise_etat"}}
_NOT_DATA = {VERSION_FIELD, "csrf_token"}


def is_versioned(model: type) -> bool:
    return issubclass(model, Versioned)


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return getattr(a, "value", a) == getattr(b, "value", b)


def state_field_errors(model: type, values: dict, current: Any) -> list[RuleError]:
    """Errors for the State's fields an opérateur tried to set or change."""
    if not current_scope().is_operateur:
        return []
    errors = []
    for name in STATE_FIELDS.get(model.__tablename__, set()) & set(values):
        before = getattr(current, name, None) if current is not None else None
        if not _same(values[name], before):
            errors.append(RuleError(name, _("Champ réservé aux services de l'État : un opérateur "
                                            "ne peut pas le modifier.")))
    return errors


def form_errors(model: type, form: Any, current: Any) -> list[RuleError]:
    """Every reason to refuse this form: stale version, State fields, domain rules."""
    if current is not None and VERSION_FIELD in form and is_versioned(model):
        loaded = parse_version(form[VERSION_FIELD].data)
        if is_stale(current, loaded):
            return [RuleError(None, stale_message(current, loaded))]
    values = {k: v for k, v in form.data.items() if k not in _NOT_DATA}
    return state_field_errors(model, values, current) + validate(model, values, current)


def attach(form: Any, errors: list[RuleError]) -> None:
    """Show each error on its field (or as a banner when no field of the form fits)."""
    for error in errors:
        if error.field and error.field in form and form[error.field].type != "HiddenField":
            form[error.field].errors = [*form[error.field].errors, error.message]
        else:
            flash(error.message, "danger")


def checked_form(form_cls: type, view: Any, creating: bool) -> type:
    """A subclass of a FAB form class whose ``validate`` also runs ``form_errors``."""

    class CheckedForm(form_cls):
        def validate(self, extra_validators=None) -> bool:
            valid = super().validate(extra_validators=extra_validators)
            current = None
            if not creating and getattr(self, "_id", None) is not None:
                current = view.datamodel.get(self._id, view._base_filters)
            errors = form_errors(view.datamodel.obj, self, current)
            attach(self, errors)
            return valid and not errors

    CheckedForm.__name__ = form_cls.__name__
    return CheckedForm


def object_errors(item: Any) -> list[RuleError]:
    """Domain-rule errors of a record as a write left it (API path)."""
    model = type(item)
    errors = validate(model, values_of(item))
    if model.__tablename__ == "convention":
        hist = inspect(item).attrs.statut.history
        if hist.deleted and hist.added:
            message = transition_error(hist.deleted[0], hist.added[0])
            if message:
                errors.append(RuleError("statut", message))
    return errors


def api_state_errors(item: Any) -> list[RuleError]:
    """State fields an opérateur's API call set or changed (read from the write's history)."""
    if not current_scope().is_operateur:
        return []
    state = inspect(item)
    errors = []
    for name in sorted(STATE_FIELDS.get(type(item).__tablename__, set())):
        hist = state.attrs[name].history
        if state.persistent:
            changed = bool(hist.added) and not _same(hist.added[0], (hist.deleted or [None])[0])
        else:
            changed = getattr(item, name) is not None
        if changed:
            errors.append(RuleError(name, _("Champ réservé aux services de l'État : un opérateur "
                                            "ne peut pas le modifier.")))
    return errors


def grouped(errors: list[RuleError]) -> dict[str, list[str]]:
    """Errors as the API answers them: ``{field: [messages]}`` (``_schema`` for the record)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(error.field or "_schema", []).append(error.message)
    return out


def loaded_version(payload: dict, if_match: Maybe[str]) -> Maybe[int]:
    """The version an API client says it edits: ``version`` in the body or ``If-Match``."""
    return parse_version(payload.pop("version", None)) or parse_version(if_match)


class OptionalEnumField(EnumField):
    """A drop-down for a nullable enum column: a blank choice (stored as NULL) and French labels.

    FAB's ``EnumField`` has no blank choice, so a browser silently submits the first value.
    """

    def __init__(self, enum_class, label=None, **kwargs):
        super().__init__(enum_class, list(enum_class.__members__), label=label, **kwargs)
        strict = self.coerce
        self.coerce = lambda value: None if value in ("", None, "None") else strict(value)
        self.choices = [("", "—")] + [(m.name, str(getattr(m, "label", m.value))) for m in enum_class]


def enum_fields(datamodel: Any, columns, labels: dict) -> dict:
    """Extra form fields for the nullable enum columns among ``columns``."""
    fields = {}
    for col in columns or []:
        if col in datamodel.list_columns and datamodel.is_enum(col) and datamodel.is_nullable(col):
            enum_class = datamodel.list_columns[col].type.enum_class
            fields[col] = OptionalEnumField(enum_class, label=labels.get(col, col),
                                            validators=[Optional()])
    return fields
