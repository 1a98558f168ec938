"""Error pages in French: a title, a sentence, a reference; never a stack trace nor SQL.

Pages under ``/api/`` (and JSON requests) get ``{"message": ...}`` instead of HTML.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

_HANDLED = (400, 401, 403, 404, 405, 413, 429, 500)


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
        500: (_("Erreur interne"),
              _("Une erreur inattendue est survenue ; elle a été enregistrée. Réessayez plus "
                "tard ou contactez l'assistance en indiquant la référence ci-dessous.")),
    }[code]


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.is_json and request.method != "GET")


def render_error(code: int, detail: str | None = None):
    """The response for an HTTP error ``code`` (HTML page or JSON message)."""
    title, message = _texts(code)
    rid = g.get("request_id")
    if _wants_json():
        return jsonify(message=detail or message, request_id=rid), code
    context = dict(title=title, message=message, detail=detail, request_id=rid)
    if "user" not in g:  # the error came before FAB's own request hook (CSRF, login guard)
        from flask_login import current_user

        g.user = current_user
    try:
        return render_template("bhasile/security/message.html",
                               appbuilder=current_app.appbuilder, **context), code
    except Exception:  # the page itself failed (database down…): plain page, still French
        log.exception("error page fell back to the plain template")
        return render_template("bhasile/security/plain.html", **context), code


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


def _unexpected(exc: InternalServerError):
    original = getattr(exc, "original_exception", None)
    log.error("unhandled exception on %s %s", request.method, request.path,
              exc_info=(type(original), original, original.__traceback__) if original else None)
    return render_error(500)


def _out_of_range(exc: Exception):
    """A number or text too big for its column reached the database: the input's fault."""
    from app.extensions import db

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
    # Unhandled exceptions reach this handler as InternalServerError (outside TESTING, where
    # Flask lets them propagate to the test).
    app.register_error_handler(InternalServerError, _unexpected)
