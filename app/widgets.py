"""Form controls in the State's design system (DSFR) for Flask-AppBuilder's forms.

FAB's field widgets draw Bootstrap markup (``form-control``, select2, a jQuery date picker).
Rather than replace them field by field, the templates (``appbuilder/general/lib.html``)
render every field through :func:`control`, which picks the native HTML control for the
field's type: ``<input type="date">`` for a date (the server format stays ``%Y-%m-%d``),
a native ``<select>`` for choices and relations, a checkbox for a boolean. Any form works
unchanged, FAB's own (users, roles) included.
"""
from __future__ import annotations

import datetime as dt
import enum
import math
from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from flask_babel import format_decimal
from markupsafe import Markup
from wtforms.widgets import html_params

from app import list_args
from app.jinja import fr_date, fr_number
from app.labels import member_label

_SELECTS = {"SelectField", "SelectMultipleField", "QuerySelectField", "QuerySelectMultipleField",
            "EnumField", "OptionalEnumField", "RadioField"}
_MULTIPLE = {"SelectMultipleField", "QuerySelectMultipleField"}
_FILES = {"FileField", "FileUploadField", "ImageUploadField", "MultipleFileField"}
_HIDDEN = {"HiddenField", "CSRFTokenField"}
_NUMBERS = {"IntegerField": "numeric", "DecimalField": "decimal", "FloatField": "decimal"}
_ISO_DATE = "%Y-%m-%d"
_UNSET = object()


def field_kind(field: Any) -> str:
    """How a field is drawn: hidden, checkbox, select, textarea, upload or input."""
    kind = field.type
    if kind in _HIDDEN:
        return "hidden"
    if kind == "BooleanField":
        return "checkbox"
    if kind in _SELECTS or _is_multiple_select(field):
        return "select"
    if kind == "TextAreaField":
        return "textarea"
    if kind in _FILES:
        return "upload"
    return "input"


def _is_multiple_select(field: Any) -> bool:
    return field.type in _MULTIPLE or bool(getattr(field.widget, "multiple", False))


def _choices(field: Any, value: Any) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of each option; ``value`` (filters) overrides the field's data."""
    wanted = None if value is _UNSET else {str(v) for v in (value if isinstance(value, list)
                                                             else [value])}
    options = []
    members = getattr(getattr(field, "_enum_class", None), "__members__", {})
    for choice in field.iter_choices():
        key, label, selected = str(choice[0]), choice[1], choice[2]
        if key in members:  # FAB's EnumField shows the raw value; the enum carries the label
            label = display(members[key])
        if wanted is not None:
            selected = key in wanted
        if key == "__None" and not str(label or "").strip():
            label = "—"
        options.append((key, label, selected))
    return options


def _select(field: Any, attrs: dict, value: Any, limit: int = 0) -> Markup:
    multiple = _is_multiple_select(field)
    options = _choices(field, value)
    if limit and len(options) > limit:
        # a long list drawn once elsewhere (a filter's <template>): here only what is chosen,
        # widgets.js puts the other options back
        options = [o for o in options if o[2] or o[0] in ("", "__None")]
        attrs["data-bh-filter-fill"] = True
    if multiple:
        attrs["multiple"] = True
        attrs.setdefault("size", min(max(len(options), 2), 8))
    html = [Markup("<select %s>") % Markup(html_params(**attrs))]
    if not multiple and options and not any(selected for _, _, selected in options) \
            and options[0][0] not in ("", "__None"):
        # a required relation without a blank choice: no silent first value
        from flask_babel import gettext as _

        html.append(Markup('<option value="" selected disabled>%s</option>')
                    % _("Sélectionner une option"))
    for key, label, selected in options:
        html.append(Markup("<option %s>%s</option>")
                    % (Markup(html_params(value=key, selected=selected)), label))
    html.append(Markup("</select>"))
    return Markup("").join(html)


def _input_type(field: Any) -> str:
    if field.type == "PasswordField":
        return "password"
    if field.type == "DateField" and list(getattr(field, "format", [_ISO_DATE]))[:1] == [_ISO_DATE]:
        return "date"
    if field.type == "EmailField":
        return "email"
    return "text"


def control(field: Any, value: Any = _UNSET, limit: int = 0, **attrs: Any) -> Markup:
    """The DSFR control of ``field``; ``attrs`` become HTML attributes (``class_``, ``id``,
    ``name``, ``aria_describedby``...), ``value`` replaces the field's data (filter rows);
    a select of more than ``limit`` options keeps only the chosen ones (see ``_select``)."""
    kind = field_kind(field)
    attrs = {k.rstrip("_").replace("_", "-") if k not in ("class_",) else "class": v
             for k, v in attrs.items()}
    attrs.setdefault("id", field.id)
    attrs.setdefault("name", field.name)
    if kind == "hidden":
        return Markup("<input %s>") % Markup(html_params(
            type="hidden", value=field._value() if value is _UNSET else value, **attrs))
    if kind == "checkbox":
        checked = bool(field.data) if value is _UNSET else str(value).lower() in ("y", "1", "true", "on")
        return Markup("<input %s>") % Markup(html_params(type="checkbox", value="y",
                                                         checked=checked, **attrs))
    if field.errors:
        attrs["aria-invalid"] = "true"
    if kind == "select":
        attrs.setdefault("class", "fr-select" + (" fr-select--error" if field.errors else ""))
        return _select(field, attrs, value, limit)
    current = field._value() if value is _UNSET else ("" if value is None else value)
    if kind == "upload":
        attrs.setdefault("class", "fr-upload")
        return Markup("<input %s>") % Markup(html_params(type="file", **attrs))
    attrs.setdefault("class", "fr-input" + (" fr-input--error" if field.errors else ""))
    if kind == "textarea":
        attrs.setdefault("rows", 4)
        return Markup("<textarea %s>\r\n%s</textarea>") % (Markup(html_params(**attrs)), current)
    kind = _input_type(field)
    if kind == "password":
        current = ""
    if field.type in _NUMBERS:
        attrs.setdefault("inputmode", _NUMBERS[field.type])
    if kind == "text" and field.type == "DateField":
        attrs.setdefault("placeholder", list(field.format)[0])
    return Markup("<input %s>") % Markup(html_params(type=kind, value=current, **attrs))


def display(value: Any, empty: str = "") -> Any:
    """A value as a list cell or a show page prints it: nothing for None, Oui/Non for a
    boolean, a list as "a, b", a date as 31/12/2025, a decimal as 1 234 567,50 (FAB would print
    None, True, [a, b], 2025-12-31, 1234567.50). Integers stay as they are (years, counts)."""
    from flask_babel import gettext as _

    if value is None:
        return empty
    if isinstance(value, bool):
        return _("Oui") if value else _("Non")
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(display(v)) for v in value) or empty
    if isinstance(value, enum.Enum):
        return member_label(value)
    if isinstance(value, dt.date):
        return fr_date(value)
    if isinstance(value, Decimal) and value.is_finite():
        return fr_number(value, max(-value.as_tuple().exponent, 0))
    if isinstance(value, float) and math.isfinite(value):
        return format_decimal(value, format="#,##0.######")
    return value


def list_title(modelview_name: str) -> str:
    """The list title of a registered view (the caption of its table)."""
    for view in current_app.appbuilder.baseviews:
        if view.__class__.__name__ == modelview_name:
            return str(getattr(view, "list_title", "") or "")
    return ""


def init_app(app: Flask) -> None:
    """The helpers of FAB's generic pages, and the guard of their query strings."""
    list_args.init_app(app)
    app.jinja_env.globals.update(bh_control=control, bh_field_kind=field_kind,
                                 bh_list_title=list_title, bh_display=display)
