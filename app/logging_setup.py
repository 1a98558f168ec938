"""Structured logs: one JSON object per line, each with the request id and the user.

Every request gets an id (``X-Request-ID`` from the proxy when it looks sane, otherwise a new
one), echoed in the response header and in error pages, and one ``bhasile.request`` line with
method, path, status and duration. JSON output is on outside tests, or with
``BHASILE_LOG_FORMAT=json``; ``BHASILE_LOG_LEVEL`` sets the level (INFO by default).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

request_log = logging.getLogger("bhasile.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _current_username() -> str | None:
    try:
        from flask_login import current_user

        return current_user.username if current_user and current_user.is_authenticated else None
    except Exception:  # outside a login context, or the user could not be loaded
        return None


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, logger, message, request id, user."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["user"] = g.get("log_user") or _current_username()
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: str = "INFO") -> None:
    """Send the root logger to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)


def _start() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if request.endpoint == "static":
        return response
    g.log_user = _current_username()
    duration = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
    request_log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"method": request.method, "path": request.path,
                            "status": response.status_code, "duration_ms": round(duration, 1),
                            "remote_addr": request.remote_addr})
    return response


def init_app(app: Flask) -> None:
    if os.environ.get("BHASILE_LOG_FORMAT", "json" if not app.testing else "") == "json":
        configure_json_logging(os.environ.get("BHASILE_LOG_LEVEL", "INFO").upper())
    app.before_request(_start)
    app.after_request(_finish)
