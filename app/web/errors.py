"""Error pages in French: a title, a sentence, a reference; never a stack trace nor SQL.

Pages under ``/api/`` (and JSON requests) get ``{"message": ...}`` instead of HTML.
When the database does not answer, the page is the plain one (the layout's menu needs the
database) and the request is answered as signed out (loading the user needs it too): 503.
"""
from __future__ import annotations

import errno
import logging

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError
from app.extensions import db
from app.documents.storage import StorageError

log = logging.getLogger(__name__)

_HANDLED = (400, 401, 403, 404, 405, 413, 429, 503, 500)  # 507: _no_space below
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
#: SQLSTATE classes of a server that cannot serve now: connection exception, insufficient
#: resources (disk full, too many connections), operator intervention (shutdown, cancel).
_UNAVAILABLE_SQLSTATE = ("08", "53", "57")


def _texts(code: int) -> tuple[str, str]:
    """(title, sentence) of an HTTP status, in the user's language (French by default)."""
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    return {
        400: (_("Requête invalide"),
              _("La demande n'a pas pu être traitée : vérifiez les informations envoyées.")),
        401: (_("Connexion requise"), _("Connectez-vous pour accéder à cette page.")),
        403: (_("Accès refusé"), _("Vous n'avez pas les droits nécessaires pour cette page.")),
        404: (_("Page introuvable"),
              _("Cette page n'existe pas ou ne fait pas partie de votre périmètre.")),
        405: (_("Action impossible"), _("Cette action n'est pas possible à cette adresse.")),
        413: (_("Fichier trop volumineux"),
              _("Le fichier envoyé dépasse la taille maximale autorisée (%(n)d Mo).", n=limit)),
        429: (_("Trop de tentatives"), _("Trop de demandes : patientez avant de réessayer.")),
        503: (_("Service momentanément indisponible"),
              _("La base de données ne répond pas. Réessayez dans quelques minutes ; si le "
                "problème persiste, contactez l'assistance en indiquant la référence ci-dessous.")),
        507: (_("Espace de stockage insuffisant"),
              _("Le serveur n'a plus assez d'espace disque : rien n'a été enregistré. Réessayez "
                "plus tard ou contactez l'assistance en indiquant la référence ci-dessous.")),
        500: (_("Erreur interne"),
              _("Une erreur inattendue est survenue ; elle a été enregistrée. Réessayez plus "
                "tard ou contactez l'assistance en indiquant la référence ci-dessous.")),
    }[code]


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.is_json and request.method != "GET")


def render_error(code: int, detail: str | None = None, plain: bool = False):
    """The response for an HTTP error ``code`` (HTML page or JSON message); ``plain`` skips the
    layout (menus, user) for a page that must not touch the database."""
    title, message = _texts(code)
    rid = g.get("request_id")
    if _wants_json():
        return jsonify(message=detail or message, request_id=rid), code
    context = dict(title=title, message=message, detail=detail, request_id=rid)
    if plain:
        return render_template("bhasile/security/plain.html", **context), code
    if "user" not in g:  # the error came before FAB's own request hook (CSRF, login guard)
        from flask_login import current_user

        g.user = current_user
    try:
        return render_template("bhasile/security/message.html",
                               appbuilder=current_app.appbuilder, **context), code
    except Exception as exc:  # the page itself failed (database down…): plain page, still French
        log.exception("error page fell back to the plain template")
        if database_unavailable(exc):
            _as_signed_out()
        return render_template("bhasile/security/plain.html", **context), code


def database_unavailable(exc: BaseException | None) -> bool:
    """Does ``exc`` say the database cannot serve now (down, unreachable, overloaded), as
    opposed to a fault of the query (SQLite reports both as OperationalError)?"""
    if isinstance(exc, PoolTimeout):
        return True  # every pooled connection busy
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or (isinstance(exc, OperationalError) and exc.statement is None):
        return True  # lost during the query, or failed while connecting (no statement sent)
    return str(getattr(exc.orig, "sqlstate", None) or "")[:2] in _UNAVAILABLE_SQLSTATE


def _as_signed_out() -> None:
    """Answer this request as signed out: Flask-Login then never loads the user again (from the
    database) for the headers, the logs or the page."""
    g._login_user = current_app.login_manager.anonymous_user()
    g.user = g._login_user


def _unavailable(exc: Exception):
    """The database is down: a French 503 (plain page or JSON), never Werkzeug's page."""
    if not database_unavailable(exc):
        raise exc  # a fault of the query: the 500 below

    log.error("database unavailable on %s %s: %s", request.method, request.path,
              type(getattr(exc, "orig", None) or exc).__name__)
    _as_signed_out()
    try:
        db.session.rollback()
    except Exception:  # the connection is gone already: nothing to undo
        pass
    response = make_response(render_error(503, plain=True))
    response.headers["Retry-After"] = "30"
    response.headers["Cache-Control"] = "no-store"
    return response


def refused_page(refusal):
    """The page of a write the gate refused (``app.gate.WriteRefused``): 404 says nothing of
    the record, 403 and the others give the gate's French reasons."""
    code = refusal.status if refusal.status in (403, 404) else 400
    return render_error(code, " ".join(e.message for e in refusal.errors))


def _http_error(exc: HTTPException):
    code = exc.code if exc.code in _HANDLED else 400
    detail = None
    if isinstance(exc, CSRFError):
        detail = _("Le jeton de sécurité du formulaire est absent ou a expiré : rechargez la "
                   "page et recommencez.")
    else:
        detail = getattr(exc, "bhasile_message", None)  # a French sentence set by our code
    if code >= 500:
        log.error("HTTP %s on %s %s", code, request.method, request.path)
    return render_error(code, detail)


def _no_space(exc: OSError):
    """A full disk (upload, import, export): a French 507 and the transaction rolled back."""
    if exc.errno not in _NO_SPACE:
        raise exc

    log.error("no space left on device on %s %s", request.method, request.path)
    db.session.rollback()
    return render_error(507)


def _unexpected(exc: InternalServerError):
    original = getattr(exc, "original_exception", None)
    if database_unavailable(original):  # raised where no handler runs (after a response)
        return _unavailable(original)
    if isinstance(original, OSError) and original.errno in _NO_SPACE:
        return _no_space(original)
    log.error("unhandled exception on %s %s", request.method, request.path,
              exc_info=(type(original), original, original.__traceback__) if original else None)
    return render_error(500)


def _storage_down(exc: Exception):
    """The file store (a local folder, an S3 bucket) failed: its French message, a 503."""
    log.error("file storage failed on %s %s: %s", request.method, request.path, exc)
    db.session.rollback()
    response = make_response(render_error(503, str(exc)))
    response.headers["Retry-After"] = "30"
    return response


def _out_of_range(exc: Exception):
    """A number or text too big for its column reached the database: the input's fault."""
    db.session.rollback()
    log.warning("value out of range on %s %s: %s", request.method, request.path,
                type(exc).__name__)
    return render_error(400, _("Une valeur envoyée dépasse les limites acceptées (nombre trop "
                               "grand, texte trop long…) : rien n'a été enregistré."))


def init_app(app: Flask) -> None:
    for code in _HANDLED[:-1]:  # 500: _unexpected below
        app.register_error_handler(code, _http_error)
    app.register_error_handler(CSRFError, _http_error)
    app.register_error_handler(DataError, _out_of_range)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DBAPIError, _unavailable)  # DataError: _out_of_range above
    app.register_error_handler(PoolTimeout, _unavailable)

    app.register_error_handler(StorageError, _storage_down)
    app.register_error_handler(OSError, _no_space)  # other OSErrors: re-raised, so 500
    # Unhandled exceptions reach this handler as InternalServerError (outside TESTING, where
    # Flask lets them propagate to the test).
    app.register_error_handler(InternalServerError, _unexpected)
