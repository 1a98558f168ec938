"""Login throttling and temporary lockout of database accounts (the password policy is in
``app/passwords.py``).

Failed logins are counted in the ``login_throttle`` table (one row per account and one per
client address), so every gunicorn worker applies the same counters. After
``BHASILE_LOGIN_MAX_FAILURES`` failures of one account (or ``BHASILE_LOGIN_IP_MAX_FAILURES``
from one address) within ``BHASILE_LOGIN_LOCKOUT_MINUTES``, further attempts are refused until
the lockout ends, even with the right password.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Optional

from flask import Flask, current_app, flash, g, redirect, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select, update
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.extensions import db
from app.passwords import password_policy
from models.base import utcnow
from models.security import LoginThrottle

log = logging.getLogger(__name__)

_FORM_LOGIN, _API_LOGIN = "AuthDBView.login", "SecurityApi.login"  # FAB's JWT login (JSON)
_LOGIN_ENDPOINTS = {_FORM_LOGIN, _API_LOGIN}
_TABLE = LoginThrottle.__table__


def _username() -> str:
    if request.endpoint == _API_LOGIN:
        body = request.get_json(silent=True)
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.form.get("username")
    return value.strip().lower()[:180] if isinstance(value, str) else ""


def _keys() -> tuple[str, str]:
    return f"user:{_username()}", f"ip:{request.remote_addr or '-'}"


def _outcome(response: Response) -> Optional[bool]:
    """True for a successful login, False for a failed one, None when it was no attempt."""
    if request.endpoint == _API_LOGIN:
        return {200: True, 401: False}.get(response.status_code)
    if current_user.is_authenticated:
        return True
    return False if response.status_code == 302 and _username() else None


def _locked(key: str, now: dt.datetime) -> Optional[dt.datetime]:
    with db.engine.connect() as conn:
        until = conn.execute(select(_TABLE.c.locked_until).where(_TABLE.c.key == key)).scalar()
    return until if until is not None and until > now else None


def _minutes_left(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


def before_login() -> Optional[Response]:
    """Refuse a login POST while its account or its address is locked."""
    if request.method != "POST" or request.endpoint not in _LOGIN_ENDPOINTS:
        return None
    now = utcnow()
    user_key, ip_key = _keys()
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
    """Count a failed login POST; forget the account's failures after a success."""
    if (request.method != "POST" or request.endpoint not in _LOGIN_ENDPOINTS
            or g.get("login_refused")):
        return response
    outcome = _outcome(response)
    if outcome is None:
        return response
    cfg = current_app.config
    window = dt.timedelta(minutes=cfg["BHASILE_LOGIN_LOCKOUT_MINUTES"])
    now = utcnow()
    user_key, ip_key = _keys()
    try:
        with db.engine.begin() as conn:
            if outcome:
                conn.execute(delete(_TABLE).where(_TABLE.c.key == user_key))
                return response
            if _username():
                _record_failure(conn, user_key, cfg["BHASILE_LOGIN_MAX_FAILURES"], window, now)
                _record_failure(conn, ip_key, cfg["BHASILE_LOGIN_IP_MAX_FAILURES"], window, now)
            conn.execute(delete(_TABLE).where(_TABLE.c.first_failure_at < now - 4 * window,
                                              _TABLE.c.locked_until.is_(None)))
    except Exception:  # counting must never turn a login page into an error page
        log.exception("login throttle not updated")
    return response


def init_app(app: Flask) -> None:
    """Settings (environment first) and the two request hooks."""
    import os

    lenient = app.testing  # the suite logs in hundreds of times from one address
    defaults = {"BHASILE_LOGIN_MAX_FAILURES": 100 if lenient else 5,
                "BHASILE_LOGIN_IP_MAX_FAILURES": 1000 if lenient else 30,
                "BHASILE_LOGIN_LOCKOUT_MINUTES": 15}
    for key, value in defaults.items():
        app.config.setdefault(key, int(os.environ.get(key, value)))
    app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", password_policy)  # FAB's own forms
    app.before_request(before_login)
    app.after_request(after_login)
