"""Forms and the REST API in front of the write gate (``app.gate``).

A form or an API call turns what it received into the gate's terms — the stored record, the
values written, the version the user loaded — and shows the gate's refusals: on their field
for a form, as ``{field: [messages]}`` with the first refusal's status for the API. No rule
lives here.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from typing import Optional as Maybe

from flask import flash
from flask_appbuilder.fields import EnumField
from sqlalchemy import inspect
from wtforms.validators import Optional

from app.gate import UNCHECKED, Gate, reserved_fields
from app.rules import RuleError
from app.scope import current_scope
from models.base import Versioned

#: Hidden form field carrying the version the user loaded.
VERSION_FIELD = "version_chargee"
_NOT_DATA = {VERSION_FIELD, "csrf_token"}


def is_versioned(model: type) -> bool:
    return issubclass(model, Versioned)


def form_errors(model: type, form: Any, current: Any, related: Maybe[dict] = None) -> list[RuleError]:
    """Every reason the gate gives to refuse this form (creation when ``current`` is None)."""
    values = {k: v for k, v in form.data.items() if k not in _NOT_DATA}
    version = UNCHECKED
    if current is not None and is_versioned(model):
        version = form[VERSION_FIELD].data if VERSION_FIELD in form else None
    return Gate(current_scope()).check(model, current, values, version, related=related)


def attach(form: Any, errors: list[RuleError]) -> None:
    """Show each error on its field (or as a banner when no field of the form fits)."""
    for error in errors:
        if error.field and error.field in form and form[error.field].type != "HiddenField":
            form[error.field].errors = [*form[error.field].errors, error.message]
        else:
            flash(error.message, "danger")


def reserved_names(model: type, form: Any) -> set[str]:
    """The form's fields the current user may not change (``app.gate.reserved_fields``), a
    relation's field (``operateur``) by its foreign key (``operateur_id``)."""
    state = reserved_fields(current_scope(), model)
    if not state:
        return set()
    mapper = inspect(model)
    by_relation = {rel.key: mapper.get_property_by_column(next(iter(rel.local_columns))).key
                   for rel in mapper.relationships
                   if not rel.uselist and len(rel.local_columns) == 1}
    return {field.name for field in form if by_relation.get(field.name, field.name) in state}


def checked_form(form_cls: type, view: Any, creating: bool) -> type:
    """A subclass of a FAB form class whose ``validate`` also asks the write gate.

    The fields the user's role may not change are drawn disabled with their reason
    (``bh_reserved``); a disabled field is not posted, so it keeps its stored value — a
    forged POST that sends one anyway goes to the gate, which refuses it on its field.
    """

    class CheckedForm(form_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in reserved_names(view.datamodel.obj, self):
                self[name].bh_reserved = True

        def validate(self, extra_validators=None) -> bool:
            current = None
            if not creating and getattr(self, "_id", None) is not None:
                current = view.datamodel.get(self._id, view._base_filters)
            for field in self:
                if getattr(field, "bh_reserved", False) and field.raw_data == []:
                    # not posted (disabled): the stored value stays, and is shown again
                    field.data = getattr(current, field.name, None) if current is not None else None
            valid = super().validate(extra_validators=extra_validators)
            related = view.gate_related(self) if hasattr(view, "gate_related") else None
            errors = form_errors(view.datamodel.obj, self, current, related)
            attach(self, errors)
            return valid and not errors and not any(f.errors for f in self)

    CheckedForm.__name__ = form_cls.__name__
    return CheckedForm


def record_values(item: Any) -> dict[str, Any]:
    """A record's column values, its many-to-one relations given by id (what a write may
    change), as the object holds them now — relations set but not yet flushed included."""
    state = inspect(item)
    mapper = state.mapper
    values = {attr.key: getattr(item, attr.key) for attr in mapper.column_attrs}
    for rel in mapper.relationships:
        if rel.uselist or len(rel.local_columns) != 1 or rel.key not in state.dict:
            continue
        fk = mapper.get_property_by_column(next(iter(rel.local_columns))).key
        related = state.dict[rel.key]
        values[fk] = getattr(related, "id", None) if related is not None else None
        values[rel.key] = related  # the rules read a relation's record (an address's département)
    return values


def stored_view(values: dict[str, Any]) -> SimpleNamespace:
    """The record as it was before an API call changed it (for the gate and the rules)."""
    return SimpleNamespace(**values)


def grouped(errors: list[RuleError]) -> dict[str, list[str]]:
    """Errors as the API answers them: ``{field: [messages]}`` (``_schema`` for the record)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(error.field or "_schema", []).append(error.message)
    return out


def loaded_version(payload: dict, if_match: Maybe[str]) -> Any:
    """The version an API client says it edits: ``version`` in the body or ``If-Match``."""
    body = payload.pop("version", None)
    return body if body is not None else if_match


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
