"""Login throttling and temporary lockout of database accounts (form and API token login).

Failed logins are counted in the ``login_throttle`` table (one row per account and one per
client address), so every gunicorn worker applies the same counters. After
``BHASILE_LOGIN_MAX_FAILURES`` failures of one account (or ``BHASILE_LOGIN_IP_MAX_FAILURES``
from one address) within ``BHASILE_LOGIN_LOCKOUT_MINUTES``, further attempts are refused until
the lockout ends, even with the right password.

Only a real password check counts: the security manager's ``auth_user_db`` leaves
``g.bh_login_attempt`` behind. A POST to ``/login/`` by someone already signed in, or refused
before the check (CSRF, empty form), changes no counter. An account is counted under its
login whether it was typed as login or as e-mail address.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Optional

from flask import Flask, current_app, flash, g, jsonify, redirect, request
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.extensions import db
from app.passwords import password_policy
from models.base import utcnow
from models.security import LoginThrottle
from models.user import BhasileUser

log = logging.getLogger(__name__)

_API_LOGIN = "SecurityApi.login"  # FAB's JWT login (JSON)
_TABLE = LoginThrottle.__table__


def _is_login() -> bool:
    """Is this request a password login (the sign-in form or the API token login)?"""
    if request.endpoint == _API_LOGIN:
        return True
    auth_view = current_app.appbuilder.sm.auth_view
    return auth_view is not None and request.endpoint == f"{auth_view.endpoint}.login"


def _typed_username() -> str:
    if request.endpoint == _API_LOGIN:
        body = request.get_json(silent=True)
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.form.get("username")
    return value if isinstance(value, str) else ""


def _account_key(typed: str) -> str:
    """``user:<login>`` of the account a typed login or e-mail address names (else as typed)."""
    typed = typed.strip().lower()[:180]
    users = BhasileUser.__table__
    with db.engine.connect() as conn:
        login = conn.execute(select(users.c.username).where(or_(
            func.lower(users.c.username) == typed, func.lower(users.c.email) == typed))
            .order_by(users.c.id).limit(1)).scalar() if typed else None
    return f"user:{(login or typed).lower()}"


def _ip_key() -> str:
    return f"ip:{request.remote_addr or '-'}"


def _locked(key: str, now: dt.datetime) -> Optional[dt.datetime]:
    with db.engine.connect() as conn:
        until = conn.execute(select(_TABLE.c.locked_until).where(_TABLE.c.key == key)).scalar()
    return until if until is not None and until > now else None


def _minutes_left(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


def _api_login_problem() -> Optional[str]:
    """What is wrong with an API login body, in French (FAB's own answers are English)."""
    from flask_appbuilder.const import AUTH_DB

    if current_app.appbuilder.sm.auth_type != AUTH_DB:
        return _("La connexion à l'API par mot de passe n'est pas ouverte : les comptes se "
                 "connectent avec ProConnect.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _("Corps JSON attendu : {\"username\": …, \"password\": …, \"provider\": \"db\"}.")
    if not all(isinstance(body.get(k), str) and body[k] for k in ("username", "password")):
        return _("Indiquez « username » et « password » (textes non vides).")
    if body.get("provider") != "db":
        return _("« provider » doit valoir « db ».")
    if not isinstance(body.get("refresh", False), bool):
        return _("« refresh » doit valoir true ou false.")
    return None


def before_login() -> Optional[Response]:
    """Refuse a malformed API login, and a login POST while its account or address is locked."""
    if request.method != "POST" or not _is_login():
        return None
    problem = _api_login_problem() if request.endpoint == _API_LOGIN else None
    if problem:
        return jsonify(message=problem), 400
    now = utcnow()
    user_key, ip_key = _account_key(_typed_username()), _ip_key()
    until = _locked(ip_key, now)
    g.login_refused = until is not None or _locked(user_key, now) is not None
    if until is not None:
        log.warning("login refused: address locked", extra={"throttle_key": ip_key})
        exc = TooManyRequests()
        exc.bhasile_message = _("Trop de tentatives de connexion depuis cette adresse : "
                                "réessayez dans %(m)d minutes.", m=_minutes_left(until, now))
        raise exc
    until = _locked(user_key, now)
    if until is not None and request.endpoint == _API_LOGIN:
        exc = TooManyRequests()
        exc.bhasile_message = _("Compte temporairement verrouillé après plusieurs échecs de "
                                "connexion : réessayez dans %(m)d minutes.", m=_minutes_left(until, now))
        raise exc
    if until is not None:
        log.warning("login refused: account locked", extra={"throttle_key": user_key})
        flash(_("Compte temporairement verrouillé après plusieurs échecs de connexion : "
                "réessayez dans %(m)d minutes.", m=_minutes_left(until, now)), "danger")
        return redirect(request.path)
    return None


def _record_failure(conn, key: str, limit: int, window: dt.timedelta, now: dt.datetime) -> None:
    row = conn.execute(select(_TABLE.c.id, _TABLE.c.failures, _TABLE.c.first_failure_at)
                       .where(_TABLE.c.key == key)).first()
    if row is None:
        conn.execute(_TABLE.insert().values(key=key, failures=1, first_failure_at=now,
                                            locked_until=now + window if limit <= 1 else None))
        return
    if row.first_failure_at < now - window:
        conn.execute(update(_TABLE).where(_TABLE.c.id == row.id)
                     .values(failures=1, first_failure_at=now, locked_until=None))
        return
    failures = row.failures + 1
    conn.execute(update(_TABLE).where(_TABLE.c.id == row.id).values(
        failures=_TABLE.c.failures + 1, locked_until=now + window if failures >= limit else None))


def after_login(response: Response) -> Response:
    """Count a failed password check; forget the account's failures after its success."""
    attempt = g.pop("bh_login_attempt", None)
    if attempt is None or g.get("login_refused"):
        return response
    typed, succeeded = attempt
    cfg = current_app.config
    window = dt.timedelta(minutes=cfg["BHASILE_LOGIN_LOCKOUT_MINUTES"])
    now = utcnow()
    try:
        user_key = _account_key(typed)
        with db.engine.begin() as conn:
            if succeeded:
                conn.execute(delete(_TABLE).where(_TABLE.c.key == user_key))
                return response
            if typed.strip():
                _record_failure(conn, user_key, cfg["BHASILE_LOGIN_MAX_FAILURES"], window, now)
                _record_failure(conn, _ip_key(), cfg["BHASILE_LOGIN_IP_MAX_FAILURES"], window, now)
            conn.execute(delete(_TABLE).where(_TABLE.c.first_failure_at < now - 4 * window,
                                              _TABLE.c.locked_until.is_(None)))
    except Exception:  # counting must never turn a login page into an error page
        log.exception("login throttle not updated")
    return response


def init_app(app: Flask) -> None:
    """Settings (environment first, read by config.py) and the two request hooks."""
    lenient = app.testing  # the suite logs in hundreds of times from one address
    defaults = {"BHASILE_LOGIN_MAX_FAILURES": 100 if lenient else 5,
                "BHASILE_LOGIN_IP_MAX_FAILURES": 1000 if lenient else 30,
                "BHASILE_LOGIN_LOCKOUT_MINUTES": 15}
    for key, value in defaults.items():
        app.config.setdefault(key, value)
    app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", password_policy)  # FAB's own forms
    app.before_request(before_login)
    app.after_request(after_login)
