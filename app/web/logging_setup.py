"""Structured logs: one JSON object per line, each with the request id and the user.

Every request gets an id (``X-Request-ID`` from the proxy when it looks sane, otherwise a new
one), echoed in the response header and in error pages, and one ``bhasile.request`` line with
method, path, status and duration. JSON output is on outside tests, or with
``BHASILE_LOG_FORMAT=json``; ``BHASILE_LOG_LEVEL`` sets the level (INFO by default).
``BHASILE_LOG_FORMAT=text`` (the development server, ``python run.py``) writes short lines for
a person instead, without the server's line per request (static files included: the
``bhasile.request`` line says the same for pages) nor the scheduler's line per run of a job.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
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


class TextFormatter(logging.Formatter):
    """One short line: time, level, message (the server's own lines as they are)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "werkzeug":
            return record.getMessage()
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{when} {record.levelname:<7} {record.getMessage()}"
        if "duration_ms" in vars(record):
            line += f" ({record.duration_ms} ms)"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _NoServerRequestLines(logging.Filter):
    """Drop the development server's line per request (« 127.0.0.1 - - [date] "GET ..." »)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "werkzeug" and record.levelno == logging.INFO
                    and " - - [" in str(record.msg))


def configure_text_logging(level: str = "INFO") -> None:
    """Short human-readable lines on stderr, for development (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, TextFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter())
    handler.addFilter(_NoServerRequestLines())
    root.handlers = [handler]
    root.setLevel(level)
    # APScheduler says "Running job … executed successfully" at every poll (10 s): the jobs'
    # own history (« Tâches planifiées ») keeps each run; only its warnings are worth a line.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


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
    log_format = app.config.get("BHASILE_LOG_FORMAT", "json" if not app.testing else "")
    level = app.config.get("BHASILE_LOG_LEVEL", "INFO").upper()
    if log_format == "json":
        configure_json_logging(level)
    elif log_format == "text":
        configure_text_logging(level)
    app.before_request(_start)
    app.after_request(_finish)
