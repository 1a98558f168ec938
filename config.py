"""BHasile settings, read from the environment.

Nothing secret has a default here: the session key is generated into ``instance/`` on the
first start (development) and must be given by the environment in production.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    """A setting makes start-up impossible; its message is one French sentence."""


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "oui", "on"}


def instance_dir() -> Path:
    return Path(os.environ.get("BHASILE_INSTANCE_DIR", BASE_DIR / "instance"))


def _ensure_instance_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"Le dossier d'instance « {path} » n'est pas accessible en écriture ({exc.strerror})."
        ) from exc


def _secret_key(path: Path, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        if len(key.encode()) < 32:
            raise ConfigError("SECRET_KEY doit faire au moins 32 octets.")
        return key
    if production:
        raise ConfigError("SECRET_KEY est obligatoire en production (BHASILE_ENV=production).")
    key_file = path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


#: Settings whose default the module that reads them gives (it may depend on the app being
#: tested): here only when the environment sets them.
_WHEN_SET = {
    # sessions (app/web/hardening.py): idle and absolute limits
    "BHASILE_SESSION_IDLE_MINUTES": float, "BHASILE_SESSION_MAX_HOURS": float,
    # login throttling (app/web/login_guard.py)
    "BHASILE_LOGIN_MAX_FAILURES": int, "BHASILE_LOGIN_IP_MAX_FAILURES": int,
    "BHASILE_LOGIN_LOCKOUT_MINUTES": int,
    # logs (app/web/logging_setup.py): json (default), text, or empty for Flask's own
    "BHASILE_LOG_FORMAT": str, "BHASILE_LOG_LEVEL": str,
    # ProConnect (app/web/oidc.py): on when an issuer is set
    "BHASILE_OIDC_ISSUER": str, "BHASILE_OIDC_CLIENT_ID": str, "BHASILE_OIDC_CLIENT_SECRET": str,
    "BHASILE_OIDC_SCOPES": str,
}


def _when_set() -> dict:
    return {key: kind(os.environ[key]) for key, kind in _WHEN_SET.items() if key in os.environ}


def load_settings(overrides: dict | None = None) -> dict:
    """Return the Flask configuration mapping for this process."""
    overrides = dict(overrides or {})
    production = _env_bool("BHASILE_PRODUCTION") or os.environ.get("BHASILE_ENV") == "production"
    inst = Path(overrides.pop("INSTANCE_DIR", instance_dir()))
    _ensure_instance_dir(inst)
    database_url = overrides.pop(
        "SQLALCHEMY_DATABASE_URI",
        os.environ.get("DATABASE_URL", f"sqlite:///{inst / 'bhasile.db'}"),
    )
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    settings = {
        "BHASILE_PRODUCTION": production,
        "INSTANCE_DIR": str(inst),
        "SECRET_KEY": overrides.pop("SECRET_KEY", None) or _secret_key(inst, production),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Flask-AppBuilder
        "APP_NAME": "BHasile",
        "AUTH_TYPE": 1,  # AUTH_DB; ProConnect (OIDC) is configured by environment later
        "AUTH_ROLE_ADMIN": "Administrateur",
        "AUTH_ROLE_PUBLIC": "Public",
        "FAB_ADD_SECURITY_API": False,
        "FAB_API_SWAGGER_UI": True,
        "FAB_SECURITY_MANAGER_CLASS": "app.web.security.BhasileSecurityManager",
        "FAB_API_MAX_PAGE_SIZE": 500,
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,  # 12+ characters (app/web/login_guard.py)
        # Locale: French first, English second
        "BABEL_DEFAULT_LOCALE": os.environ.get("BHASILE_LOCALE", "fr"),
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "BABEL_TRANSLATION_DIRECTORIES": f"{BASE_DIR / 'translations' / 'fab'};{BASE_DIR / 'translations'}",
        "LANGUAGES": {
            "fr": {"flag": "fr", "name": "Français"},
            "en": {"flag": "gb", "name": "English"},
        },
        # Security defaults
        "WTF_CSRF_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or _env_bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_SECURE": production or _env_bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Limits
        "MAX_CONTENT_LENGTH": int(os.environ.get("BHASILE_MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "BHASILE_IMPORT_MAX_ROWS": int(os.environ.get("BHASILE_IMPORT_MAX_ROWS", "200000")),
        "BHASILE_IMPORT_MAX_UNZIPPED_MB": int(os.environ.get("BHASILE_IMPORT_MAX_UNZIPPED_MB", "200")),
        # a sheet's grid (A1 to its last cell) and the text of a whole file, checked before reading
        "BHASILE_IMPORT_MAX_CELLS": int(os.environ.get("BHASILE_IMPORT_MAX_CELLS", "5000000")),
        "BHASILE_IMPORT_MAX_TEXT_MB": int(os.environ.get("BHASILE_IMPORT_MAX_TEXT_MB", "64")),
        # Larger uploads are previewed and applied in the background (imports/background.py);
        # a background step silent this long died with its process (shown failed, re-runnable)
        "BHASILE_IMPORT_BACKGROUND_BYTES": int(os.environ.get("BHASILE_IMPORT_BACKGROUND_BYTES",
                                                              "1000000")),
        "BHASILE_IMPORT_STALE_MINUTES": int(os.environ.get("BHASILE_IMPORT_STALE_MINUTES", "10")),
        "BHASILE_EXPORT_MAX_ROWS": int(os.environ.get("BHASILE_EXPORT_MAX_ROWS", "0")),  # 0 = no cap
        # Larger exports are written in the background (exports/jobs.py), kept this long
        "BHASILE_EXPORT_SYNC_MAX_ROWS": int(os.environ.get("BHASILE_EXPORT_SYNC_MAX_ROWS", "20000")),
        "BHASILE_EXPORT_KEEP_HOURS": int(os.environ.get("BHASILE_EXPORT_KEEP_HOURS", "24")),
        "BHASILE_EXPORT_CLEANUP_CRON": os.environ.get("BHASILE_EXPORT_CLEANUP_CRON", "20 * * * *"),
        "UPLOAD_FOLDER": os.environ.get("BHASILE_UPLOAD_FOLDER", str(inst / "uploads")),
        "BHASILE_SCHEDULER": _env_bool("BHASILE_SCHEDULER", False),
        # Every file (documents, import originals, exports) in one store (app/documents/storage.py):
        # empty = the instance folder; s3://bucket/prefix for any S3-compatible store
        "BHASILE_STORAGE_URL": os.environ.get("BHASILE_STORAGE_URL", ""),
        "BHASILE_S3_ENDPOINT_URL": os.environ.get("BHASILE_S3_ENDPOINT_URL", ""),
        "BHASILE_S3_REGION": os.environ.get("BHASILE_S3_REGION", ""),
        # Background jobs (app/jobs/queue.py): « auto » = the PostgreSQL queue on PostgreSQL, threads
        # of the web process on SQLite; « thread » forces the latter
        "BHASILE_QUEUE": os.environ.get("BHASILE_QUEUE", "auto"),
        # a job worker silent this long (seconds) died: its jobs are run again by another
        "BHASILE_WORKER_HEARTBEAT_SECONDS": float(os.environ.get("BHASILE_WORKER_HEARTBEAT_SECONDS", "10")),
        "BHASILE_WORKER_STALLED_SECONDS": float(os.environ.get("BHASILE_WORKER_STALLED_SECONDS", "60")),
        # Jobs, indicators and map (app/jobs/__init__.py, app/pilotage/seuils.py, views/carte.py)
        "BHASILE_REBUILD_CRON": os.environ.get("BHASILE_REBUILD_CRON", "30 2 * * *"),
        "BHASILE_ROLLOVER_CRON": os.environ.get("BHASILE_ROLLOVER_CRON", "5 0 * * *"),
        "BHASILE_SEUILS": os.environ.get("BHASILE_SEUILS", ""),  # JSON, see app/pilotage/seuils.py
        "BHASILE_TILE_URL": os.environ.get("BHASILE_TILE_URL", ""),  # empty: map without tiles
        "BHASILE_TILE_ATTRIBUTION": os.environ.get("BHASILE_TILE_ATTRIBUTION", ""),
        # Behind a reverse proxy: trust one X-Forwarded-* (app/web/hardening.py)
        "BHASILE_PROXY_FIX": bool(os.environ.get("BHASILE_PROXY_FIX")),
        # Documents kept outside the file store (app/documents/storage.py); one document's limit in Mo
        # (app/documents/__init__.py, 20 when empty)
        "BHASILE_DOCUMENTS_DIR": os.environ.get("BHASILE_DOCUMENTS_DIR"),
        "BHASILE_DOCUMENT_MAX_MB": os.environ.get("BHASILE_DOCUMENT_MAX_MB"),
        # `flask bhasile worker` processes (app/jobs/queue.py)
        "BHASILE_WORKERS": int(os.environ.get("BHASILE_WORKERS", "2")),
    }
    settings.update(_when_set())
    settings.update(overrides)
    return settings
