"""BHasile application factory."""
from __future__ import annotations

import logging
from typing import Any, Optional

from flask import Flask
from flask_appbuilder import AppBuilder
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from config import BASE_DIR, ConfigError, load_settings

from .extensions import db, migrate

log = logging.getLogger(__name__)


def _check_database(app: Flask) -> None:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        url = db.engine.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        raise ConfigError(f"La base de données « {url} » est injoignable : {reason}.") from exc


def create_app(test_config: Optional[dict[str, Any]] = None) -> Flask:
    """Build a BHasile app; ``test_config`` overrides settings (tests, benchmarks)."""
    try:
        settings = load_settings(test_config)
    except ConfigError as exc:
        raise SystemExit(f"BHasile ne peut pas démarrer : {exc}") from None
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"])
    app.config.update(settings)
    app.config.setdefault("FAB_CREATE_DB", False)  # Alembic owns the schema
    app.config.setdefault("FAB_UPDATE_PERMS", False)  # `flask bhasile init` syncs permissions
    app.config.setdefault("FAB_INDEX_VIEW", "views.home.HomeView")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "app" / "migrations"),
                     render_as_batch=True, compare_type=True)
    from app.web import hardening  # headers, CSRF, sessions, login guard, ProConnect, logs, /healthz

    hardening.init_app(app)

    with app.app_context():
        if app.config.get("BHASILE_CHECK_DATABASE", True):
            try:
                _check_database(app)
            except ConfigError as exc:
                raise SystemExit(f"BHasile ne peut pas démarrer : {exc}") from None
        # lazy: composition root — these need the configured app (session hooks, Jinja, CLI)
        from . import audit, cli, comptes, jinja, vues, widgets
        from app.web import return_to

        audit.init_audit(type(db.session()))
        comptes.init_history(type(db.session()))
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)

        # lazy: composition root — the views are the top layer, assembled once FAB is ready
        from views import register_views

        register_views(appbuilder)
        _register_jobs()
        jinja.init_app(app)
        widgets.init_app(app)
        return_to.init_app(app)
        vues.init_app(app)
        cli.init_app(app)
    return app


def _register_jobs() -> None:
    """Import every module that registers a background job with ``app.jobs.queue`` (``@task``) or a
    scheduled one with ``app.jobs`` (``register_job``): a worker or a scheduler process knows
    them all, whichever pages it serves. The application factory is the composition root,
    the one place that may import every layer."""
    import exports.jobs  # noqa: F401  # lazy: composition root — registers « export », « export_cleanup »
    import imports.background  # noqa: F401  # lazy: composition root — « import_preview », « import_apply »

    from . import jobs  # noqa: F401  # lazy: registers « notification », « scheduled »
    from app.documents import dialogue as dialogue_documents
