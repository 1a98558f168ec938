"""Query-string guard of FAB's list and show pages: a bad argument is dropped with a French
message, never a server error.

FAB reads ``page_<View>``, ``psize_<View>``, ``_oc_<View>``/``_od_<View>`` and
``_flt_<n>_<column>`` straight from the URL: ``int("abc")`` on a page number, an empty or unknown
enum value sent to the database, a filter index past the column's filters all ended in a 500,
and a page size of 100000 (or -5, which FAB reads as "everything") rendered the whole table.
Before such a page runs, every one of these arguments is checked against the view it names;
what is wrong is removed from ``request.args`` (so the page, its links and its forms carry the
cleaned query) and told in a warning (an empty filter value is no filter: dropped, and said).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from flask import Flask, current_app, flash, request
from flask_appbuilder.baseviews import BaseCRUDView
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict

#: The largest page the rows-per-page selector offers; a bigger request is capped to it.
MAX_PAGE_SIZE = 200
_ID_LIMIT = 2**31 - 1
_FILTER = re.compile(r"_flt_(\d+)_(.+)")
_PAGE_ARGS = re.compile(r"(page|psize)_(.+)")
_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _views() -> dict[str, BaseCRUDView]:
    """FAB's model views by name (the name used in their query arguments)."""
    appbuilder = current_app.appbuilder
    cached = getattr(appbuilder, "bhasile_crud_views", None)
    if cached is None:
        cached = {v.__class__.__name__: v for v in appbuilder.baseviews
                  if isinstance(v, BaseCRUDView)}
        appbuilder.bhasile_crud_views = cached
    return cached


def _page_arg(kind: str, raw: str) -> tuple[Optional[str], Optional[str]]:
    """(value kept or None, message or None) of a ``page_``/``psize_`` argument."""
    text = raw.strip()
    number = int(text) if text.isdigit() and len(text) < 10 else None
    if kind == "page":
        if number is None:
            return None, _("Numéro de page « %(v)s » invalide : première page affichée.", v=raw)
        return str(number), None
    if number is None or number < 1:
        return None, _("Nombre de lignes par page « %(v)s » invalide : valeur par défaut.", v=raw)
    if number > MAX_PAGE_SIZE:
        return str(MAX_PAGE_SIZE), _("%(max)d lignes par page au plus.", max=MAX_PAGE_SIZE)
    return str(number), None


def _filter_value(view: BaseCRUDView, column: str, raw: str) -> tuple[Optional[str], bool]:
    """(value to query, valid?) of one filter value, by the column's type; a French date
    (31/12/2025) is turned into the ISO date FAB reads."""
    datamodel = view.datamodel
    value = raw.strip()
    if datamodel.is_relation(column):
        return value, value.isdigit() and int(value) <= _ID_LIMIT
    if datamodel.is_enum(column):
        enum_class = datamodel.list_columns[column].type.enum_class
        allowed = {m.value for m in enum_class} if enum_class else set()
        return value, not allowed or value in allowed
    if datamodel.is_integer(column):
        return value, bool(re.fullmatch(r"-?\d{1,10}", value)) and abs(int(value)) <= _ID_LIMIT
    if datamodel.is_float(column) or datamodel.is_numeric(column):
        try:
            number = Decimal(value.replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            return value, False
        ok = number.is_finite() and abs(number) < Decimal(10) ** 15
        return str(number) if ok else value, ok
    if datamodel.is_date(column) or datamodel.is_datetime(column):
        return _iso_date(value, datamodel.is_datetime(column))
    return raw, True


def _iso_date(value: str, with_time: bool) -> tuple[str, bool]:
    french = _FR_DATE.fullmatch(value)
    if french:
        value = f"{french[3]}-{int(french[2]):02d}-{int(french[1]):02d}"
    try:
        (dt.datetime if with_time else dt.date).fromisoformat(value)
    except ValueError:
        return value, False
    return value, True


def _label(view: BaseCRUDView, column: str) -> str:
    return str((view.label_columns or {}).get(column) or column)


def _check_filter(view: BaseCRUDView, key: str, values: list[str]) -> tuple[list[str], list[str]]:
    """(values kept, messages) of one ``_flt_<n>_<column>`` argument."""
    match = _FILTER.fullmatch(key)
    index, column = int(match[1]), match[2]
    search = view._filters.get_search_filters()
    if column not in search:
        return [], [_("Filtre sur « %(c)s » impossible sur cette liste : ignoré.", c=column)]
    if index >= len(search[column]) or index > 9:
        return [], [_("Condition de filtre inconnue pour « %(c)s » : filtre ignoré.",
                      c=_label(view, column))]
    kept, messages = [], []
    for raw in values:
        if raw.strip() in ("", "__None"):
            messages.append(_("Filtre « %(c)s » sans valeur : ignoré.", c=_label(view, column)))
            continue
        value, ok = _filter_value(view, column, raw)
        if ok:
            kept.append(value)
        else:
            messages.append(_("Valeur « %(v)s » invalide pour le filtre « %(c)s » : filtre ignoré.",
                              v=raw[:60], c=_label(view, column)))
    return kept, messages


def _check_order(args: Any, name: str) -> Optional[str]:
    """The message for a bad sort (``_oc_<View>``/``_od_<View>``), None when it is fine."""
    view = _views().get(name)
    column = args.get("_oc_" + name, "")
    direction = args.get("_od_" + name)
    if view is not None and column not in (view.order_columns or []):
        return _("Tri impossible sur « %(c)s » : ordre par défaut.", c=column[:60])
    if direction not in ("asc", "desc"):
        return _("Sens de tri « %(d)s » inconnu : ordre par défaut.", d=str(direction or "")[:20])
    return None


def cleaned_args(view: BaseCRUDView, args: Any, with_filters: bool) -> tuple[list, list[str]]:
    """(arguments kept as (key, value) pairs, messages) for a page of ``view``."""
    kept: list[tuple[str, str]] = []
    messages: list[str] = []
    bad_orders = set()
    for key in args:
        if key.startswith("_oc_") and (message := _check_order(args, key[4:])):
            bad_orders.add(key[4:])
            messages.append(message)
    for key, values in args.lists():
        page = _PAGE_ARGS.fullmatch(key)
        if page:
            value, message = _page_arg(page[1], values[0])
            kept += [(key, value)] if value is not None else []
            messages += [message] if message else []
        elif key.startswith(("_oc_", "_od_")):
            if key[4:] not in bad_orders:
                kept += [(key, v) for v in values]
        elif with_filters and _FILTER.fullmatch(key):
            values, problems = _check_filter(view, key, values)
            kept += [(key, v) for v in values]
            messages += problems
        else:
            kept += [(key, v) for v in values]
    return kept, messages


def _guard() -> None:
    endpoint = request.endpoint or ""
    name, _sep, method = endpoint.partition(".")
    if method not in ("list", "show") or not request.args or not current_user.is_authenticated:
        return  # FAB sends the visitor to the login page before reading any argument
    view = _views().get(name)
    if view is None:
        return
    kept, messages = cleaned_args(view, request.args, with_filters=method == "list")
    if not messages and kept == list(request.args.items(multi=True)):
        return
    request.args = ImmutableMultiDict(kept)  # FAB and the page's links read the cleaned query
    for message in dict.fromkeys(messages):
        flash(message, "warning")


def init_app(app: Flask) -> None:
    app.before_request(_guard)
