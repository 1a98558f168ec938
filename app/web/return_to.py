"""Back where the agent came from: after a save, after switching language.

FAB sends a saved form to the previous page of its session history, which the fiche and our
own lists never write to, so agents landed on the home page. Here a form carries the page it
was opened from (``next``: the link's explicit target, else the referrer) and the save goes
back there. Only a path on this site is followed: ``https://evil.example``, ``//evil.example``
or ``/\\evil.example`` are ignored (no open redirect).
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, redirect, request, session
from flask_babel import refresh

NEXT = "next"


def safe_next(target: Optional[str]) -> Optional[str]:
    """``target`` when it is a path on this site (``/structureview/show/3#finances``), else
    ``None``."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    if not target.startswith("/") or target.startswith("//") \
            or any(c in target for c in "\\\r\n\t\0") or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def referrer_path() -> Optional[str]:
    """The referring page's path and query when it is a page of this site, else ``None``."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def form_next() -> str:
    """The page a form returns to, for its hidden ``next`` field: the one it was given (link
    or previous post), else, when it is opened, the page that linked to it."""
    given = safe_next(request.values.get(NEXT))
    if given:
        return given
    if request.method == "GET":
        back = referrer_path()
        if back and urlsplit(back).path != request.path:
            return back
    return ""


class ReturnToMixin:
    """A FAB ModelView whose add, edit and delete go back to the page they came from."""

    def _return_url(self, deleting: bool = False) -> Optional[str]:
        target = safe_next(request.values.get(NEXT))
        if target is None and deleting:
            target = referrer_path()
            route = getattr(self, "route_base", "") or ""
            if target and route and (target.startswith(f"{route}/show/")
                                     or target.startswith(f"{route}/edit/")):
                target = None   # the deleted record's own page is gone
        return target

    def post_add_redirect(self):
        return redirect(self._return_url() or self.get_redirect())

    def post_edit_redirect(self):
        return redirect(self._return_url() or self.get_redirect())

    def post_delete_redirect(self):
        return redirect(self._return_url(deleting=True) or self.get_redirect())


def switch_language(locale: str):
    """FAB's /lang/<code>, staying on the page the agent was reading (FAB goes home)."""
    from flask import abort, current_app

    if locale not in current_app.appbuilder.bm.languages:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(safe_next(request.args.get(NEXT)) or referrer_path()
                    or current_app.appbuilder.get_url_for_index)


def init_app(app: Flask) -> None:
    """Replace FAB's language switch; give templates the form's return page."""
    endpoint = "LocaleView.index"
    if endpoint in app.view_functions:
        app.view_functions[endpoint] = switch_language
    app.jinja_env.globals.update(bh_next=form_next)
