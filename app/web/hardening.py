"""Web hardening: security headers and CSP nonces, CSRF on every mutation, session lifetime.

``init_app`` is called by ``create_app`` before Flask-AppBuilder starts; it also wires the
login guard (``app/web/login_guard.py``), the server-side sessions (``app/web/sessions.py``),
ProConnect (``app/web/oidc.py``), the French error pages
(``app/web/errors.py``), the JSON logs (``app/web/logging_setup.py``) and ``/healthz``.
"""
from __future__ import annotations

import secrets
import time
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, jsonify, redirect, request, session
from flask_babel import gettext as _
from flask_login import current_user, logout_user, user_logged_in
from flask_wtf.csrf import CSRFProtect, validate_csrf
from wtforms.validators import ValidationError
from werkzeug.wrappers import Response
from app.web import api_guard
from app.web import errors
from app.web import health
from app.web import logging_setup
from app.web import login_guard
from app.web import oidc
from app.web import sessions

_MUTATIONS = {"POST", "PUT", "PATCH", "DELETE"}
csrf = CSRFProtect()


def csp_nonce() -> str:
    """The nonce of this request's Content-Security-Policy (FAB templates call it)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _origin(url: str) -> Optional[str]:
    parts = urlsplit(url.replace("{s}", "a"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


def content_security_policy() -> str:
    """Same-origin only; scripts need this request's nonce (no inline script without it)."""
    img = ["'self'", "data:", "blob:"]
    tiles = _origin(current_app.config.get("BHASILE_TILE_URL") or "")
    if tiles:  # a map tile server chosen by the administrator
        img.append(tiles)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{csp_nonce()}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src " + " ".join(img),
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(response: Response) -> Response:
    headers = response.headers
    # A response with its own policy keeps it: a document download is sandboxed, stricter still.
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config.get("BHASILE_PRODUCTION"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # the user last: a static file (CSS of the "database down" page) must not need the database
    if (response.mimetype in ("text/html", "application/json") and "Cache-Control" not in headers
            and current_user and current_user.is_authenticated):
        headers["Cache-Control"] = "no-store"
    return response


def _cookie_signed_in() -> bool:
    """Does the session cookie itself sign a user in (Flask-Login's key)?"""
    return session.get("_user_id") is not None


def csrf_check() -> None:
    """CSRF on every mutation: forms, AJAX (X-CSRFToken header) and the cookie-authenticated
    REST API. A call authenticated by its own ``Authorization: Bearer`` token (JWT), whose
    session cookie (if any) signs nobody in, has no credential a third-party site could ride
    on: exempt, as is the API token login (``BHASILE_CSRF_EXEMPT_ENDPOINTS``)."""
    if request.method not in _MUTATIONS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.headers.get("Authorization", "").startswith("Bearer ") and not _cookie_signed_in():
        return
    if request.endpoint in current_app.config["BHASILE_CSRF_EXEMPT_ENDPOINTS"]:
        return
    csrf.protect()


def form_token_ok() -> bool:
    """Whether the posted form carries its own valid CSRF token; else says so in a message.
    ``csrf_check`` already refuses a mutation without a token; the pages whose forms are often
    left open (imports, scheduled jobs, rights) check the form's own token too, to answer an
    expired one with this message and the page back rather than the error page."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        flash(_("La session a expiré : rechargez la page et recommencez."), "danger")
        return False
    return True


def _expired(now: float) -> bool:
    cfg = current_app.config
    seen = session.get("_bh_seen", now)
    started = session.get("_bh_started", now)
    return (now - seen > cfg["BHASILE_SESSION_IDLE_MINUTES"] * 60
            or now - started > cfg["BHASILE_SESSION_MAX_HOURS"] * 3600)


def session_lifetime() -> Optional[Response]:
    """Idle timeout and absolute lifetime of a signed-in session (both signed in the cookie);
    a cookie whose session the server ended (sign-out, new password) signs nobody in."""
    endpoint = request.endpoint or ""
    if endpoint.endswith("static") or endpoint == "healthz" or not _cookie_signed_in():
        return None  # no session cookie (a JWT call has its own expiry)
    if not current_user.is_authenticated:
        return _signed_out(_("Votre session a pris fin (déconnexion, mot de passe changé ou "
                             "compte désactivé) : reconnectez-vous."))
    now = time.time()
    if not _expired(now):
        session.setdefault("_bh_started", now)
        session["_bh_seen"] = now
        return None
    return _signed_out(_("Votre session a expiré : reconnectez-vous."))


def _signed_out(message: str) -> Response:
    sessions.end()
    logout_user()
    session.clear()
    if request.path.startswith("/api/") or request.is_json:
        return jsonify(message=message), 401
    flash(message, "warning")
    return redirect(current_app.appbuilder.get_url_for_login)


def _on_login(sender, user, **extra) -> None:
    now = time.time()
    session["_bh_started"] = now
    session["_bh_seen"] = now


def _settings(app: Flask) -> None:
    app.config.setdefault("BHASILE_SESSION_IDLE_MINUTES", 30.0)
    app.config.setdefault("BHASILE_SESSION_MAX_HOURS", 12.0)
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", int(app.config["BHASILE_SESSION_MAX_HOURS"] * 3600))
    # The API token endpoints: a script's JSON body (login) or its refresh token in the
    # Authorization header (refresh), no cookie to ride on, and the token goes only to the
    # caller (a cross-site form cannot send JSON); logins are rate-limited by app/web/login_guard.py.
    app.config.setdefault("BHASILE_CSRF_EXEMPT_ENDPOINTS", {"SecurityApi.login", "SecurityApi.refresh"})
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # csrf_check decides, API included
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session


def init_app(app: Flask) -> None:
    """Install every hardening measure on ``app`` (before AppBuilder is initialised)."""
    _settings(app)
    if app.config.get("BHASILE_PROXY_FIX"):  # behind a reverse proxy: trust one X-Forwarded-*
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    logging_setup.init_app(app)
    oidc.init_app(app)
    csrf.init_app(app)
    app.before_request(session_lifetime)
    app.before_request(csrf_check)
    login_guard.init_app(app)
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce  # a global: FAB macros import no context
    user_logged_in.connect(_on_login, app)
    sessions.init_app(app)
    errors.init_app(app)
    health.init_app(app)
    api_guard.init_app(app)
