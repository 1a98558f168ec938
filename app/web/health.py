"""``/healthz``: the probe a load balancer or supervisor calls (no login, no session)."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)


def healthz():
    """200 when the database answers, 503 otherwise (never a stack trace)."""
    # Answered as signed out even with a session cookie: loading the user needs the database,
    # and the response headers would do it after this function (500 while the base was down).
    g._login_user = current_app.login_manager.anonymous_user()
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure of the database is "unhealthy"
        log.error("healthz: database unreachable: %s", type(exc).__name__)
        return jsonify(status="error", database="injoignable"), 503
    return jsonify(status="ok", database="ok"), 200


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
