"""Sessions the server can end: signing out, a new password or a deactivated account.

Flask's session is a signed cookie: on its own, a copy kept by someone else would still sign
its user in after « Se déconnecter ». So each sign-in (Flask-Login's ``user_logged_in``, for
passwords and ProConnect alike) records a ``user_session`` row and writes its id, with the
account's ``session_epoch``, into the cookie; the user of a request is loaded only while
both still match (``signed_in_user``, the security manager's ``load_user``).

- « Se déconnecter » is a POST (CSRF checked like every form) that deletes the row;
  ``GET /logout/`` only shows the page with that button.
- A new password or a deactivated account bumps the epoch (``models/user.py``): every other
  session of the account, and every API token (claim ``bhe``, ``app/web/security.py``), ends.
"""
from __future__ import annotations

import datetime as dt
import secrets

from flask import Flask, current_app, flash, redirect, request, session
from flask_appbuilder import expose
from flask_babel import gettext as _
from flask_login import current_user, logout_user, user_logged_in
from sqlalchemy import delete, insert, select

from app.extensions import db
from models.base import utcnow
from models.security import UserSession

SID, EPOCH = "_bh_sid", "_bh_epoch"
_TABLE = UserSession.__table__


def start(user) -> None:
    """Record a new session for ``user`` and put its id in the cookie (also forgets the
    sessions older than the longest one allowed)."""
    now = utcnow()
    longest = dt.timedelta(hours=current_app.config["BHASILE_SESSION_MAX_HOURS"])
    sid = secrets.token_urlsafe(32)
    db.session.execute(delete(_TABLE).where(_TABLE.c.created_at < now - longest))
    db.session.execute(insert(_TABLE).values(id=sid, user_id=user.id, created_at=now))
    db.session.commit()
    session[SID] = sid
    session[EPOCH] = user.session_epoch or 0


def signed_in_user(user_model, pk):
    """The active user of the cookie's session, if the server still holds that session with
    the account's current epoch (one query: the user joined to its session row)."""
    sid = session.get(SID)
    if not isinstance(sid, str) or not str(pk).isdigit():
        return None
    user = db.session.execute(
        select(user_model).join(_TABLE, _TABLE.c.user_id == user_model.id)
        .where(user_model.id == int(pk), _TABLE.c.id == sid)).scalar_one_or_none()
    if user is None or not user.is_active or session.get(EPOCH) != user.session_epoch:
        return None
    return user


def end() -> None:
    """Close the cookie's session on the server: a copy of the cookie signs nobody in."""
    sid = session.pop(SID, None)
    session.pop(EPOCH, None)
    if isinstance(sid, str):
        db.session.execute(delete(_TABLE).where(_TABLE.c.id == sid))
        db.session.commit()


def renew(user) -> None:
    """After the user changed their own password: this session goes on (under a new id and
    the new epoch), while their other sessions and tokens have ended."""
    end()
    db.session.refresh(user)
    start(user)


class SignOutMixin:
    """« Se déconnecter » for FAB's sign-in views: POST signs out, GET asks for the POST."""

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        appbuilder = self.appbuilder
        if request.method == "GET":
            if not current_user.is_authenticated:
                return redirect(appbuilder.get_url_for_index)
            return self.render_template("bhasile/security/logout.html", appbuilder=appbuilder)
        user = self._get_authenticated_user()
        end()
        logout_user()
        if user is not None:
            appbuilder.sm.on_user_logout(user)
        flash(_("Vous êtes déconnecté de BHasile."), "success")
        return redirect(appbuilder.get_url_for_login)


def _on_login(sender, user, **extra) -> None:
    start(user)


def init_app(app: Flask) -> None:
    user_logged_in.connect(_on_login, app)
