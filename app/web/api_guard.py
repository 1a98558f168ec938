"""Guards on input that Flask-AppBuilder parses itself, so that a bad value gets a French 4xx.

REST API references: a reference to another record must name an existing one.

marshmallow-sqlalchemy's ``Related`` field (used by FAB's REST API for relations such as
``departement`` or ``operateur``) builds a *new* related object when the one named does not
exist, and crashes (500) when the dictionary sent has unknown keys. Through the API that would
let a caller create départements or opérateurs on the side, or trigger server errors. Here a
reference either resolves to an existing row or is refused with a French validation message
(FAB answers 422).

Also checked here before FAB sees them: the Rison ``q`` argument of the API (readable, no NUL
character, paging within bounds) and the name and records of a list or show action.
"""
from __future__ import annotations

from typing import Any

import prison
from flask import Flask, abort, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from marshmallow_sqlalchemy.fields import Related
from sqlalchemy.exc import NoResultFound, SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound


def _existing_only(self: Related, value: Any, *args: Any, **kwargs: Any) -> Any:
    keys = [prop.key for prop in self.related_keys]
    if not isinstance(value, dict):
        if len(keys) != 1:
            raise ValidationError(_("Référence invalide : indiquez %(k)s.", k=", ".join(keys)))
        value = {keys[0]: value}
    if set(value) - set(keys):
        raise ValidationError(_("Référence invalide : indiquez seulement %(k)s.", k=", ".join(keys)))
    try:
        return self._get_existing_instance(self.related_model, value)
    except (NoResultFound, TypeError, ValueError, OverflowError, SQLAlchemyError):
        self.session.rollback() if hasattr(self.session, "rollback") else None
        raise ValidationError(_("Cet enregistrement lié n'existe pas.")) from None


#: Every primary key is an INTEGER column: 32 bits on PostgreSQL (SQLite would take 64 bits, but
#: a larger id than PostgreSQL can hold is no record of ours on either database).
_ID_LIMIT = 2**31 - 1


def _reject_impossible_ids(endpoint: str | None, values: dict | None) -> None:
    """An identifier in the URL too large for any column names no record: 404, not a crash."""
    for key in ("pk", "id"):
        value = (values or {}).get(key)
        text = str(value) if isinstance(value, (int, str)) else ""
        if text.lstrip("-").isdigit() and abs(int(text)) > _ID_LIMIT:
            abort(404)


def _rison_problem(value: Any, key: Any = None) -> str | None:
    """What is wrong in a parsed Rison value, in French (None when nothing is)."""
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL refuses a NUL character in a text parameter: FAB answered 500 "Fatal error"
        return _("Paramètre « q » invalide : caractère nul interdit.")
    if key in ("page", "page_size"):
        lowest = 0 if key == "page" else 1
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= _ID_LIMIT:
            # a negative page gave a negative OFFSET, refused by PostgreSQL (500)
            return _("Paramètre « q » invalide : %(k)s doit être un entier de %(a)d à %(b)d.",
                     k=key, a=lowest, b=_ID_LIMIT)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for inner_key, inner in items:
        problem = _rison_problem(inner_key) or _rison_problem(inner, inner_key)
        if problem:
            return problem
    return None


def _check_rison_query():
    """FAB's API reads its ``q`` argument as Rison; some malformed values crashed the parser,
    others the query built from them."""
    if not request.path.startswith("/api/") or "q" not in request.args:
        return None
    try:
        parsed = prison.loads(request.args["q"])
    except Exception:  # any parser failure is the caller's input
        return jsonify(message=_("Paramètre « q » illisible : format Rison attendu.")), 400
    problem = _rison_problem(parsed)
    return (jsonify(message=problem), 400) if problem else None


def _refusal(error: type[HTTPException], message: str) -> HTTPException:
    exc = error()
    exc.bhasile_message = message  # shown by app/web/errors.py
    return exc


def _check_action():
    """FAB's list actions (``action_post``) and record actions (``action/<name>/<pk>``) look the
    action up by name and the records by key without checking either: an unknown name crashed
    (500, even signed out), an unknown record reached the action as ``None``."""
    endpoint = request.endpoint or ""
    if not endpoint.endswith((".action_post", ".action")):
        return
    view = getattr(current_app.view_functions.get(endpoint), "__self__", None)
    actions = getattr(view, "actions", None)
    if actions is None:
        return
    if endpoint.endswith(".action_post"):
        name, keys, error = request.form.get("action"), request.form.getlist("rowid"), BadRequest
    else:
        name, keys, error = request.view_args.get("name"), [request.view_args.get("pk")], NotFound
    if name not in actions:
        raise _refusal(error, _("Action inconnue : rien n'a été modifié."))
    g.setdefault("user", current_user)  # FAB's own hook, which sets it, runs after this one
    if not view.appbuilder.sm.has_access(view.get_action_permission_name(name),
                                         view.class_permission_name):
        return  # FAB refuses it with its own message
    for key in keys:
        if not (str(key).isdigit() and int(key) <= _ID_LIMIT and view.datamodel.get(int(key))):
            raise _refusal(NotFound, _("Un des enregistrements choisis n'existe pas : rien n'a "
                                       "été modifié."))


def init_app(app: Flask) -> None:
    """Install the guards (the field patch once per process)."""
    app.url_value_preprocessor(_reject_impossible_ids)
    app.before_request(_check_rison_query)
    app.before_request(_check_action)
    if getattr(Related._deserialize, "__name__", "") != "_existing_only":
        Related._deserialize = _existing_only
