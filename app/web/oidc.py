"""ProConnect: the State agents' OpenID Connect federation, through FAB's AUTH_OAUTH.

Configured only by the environment: ``BHASILE_OIDC_ISSUER`` (e.g. the ProConnect issuer URL),
``BHASILE_OIDC_CLIENT_ID``, ``BHASILE_OIDC_CLIENT_SECRET`` and ``BHASILE_OIDC_SCOPES``. When the
issuer is not set, database login stays (local and demo use).

An agent is matched by e-mail to an account an administrator created beforehand; nobody gets
an account or a role by signing in: without an account, the agent lands on a page asking to
request access from their administrator.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, flash, g, redirect, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.const import AUTH_OAUTH
from flask_appbuilder.security.views import AuthOAuthView, UserOAuthModelView
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.web.return_to import ReturnToMixin
from app.web.security import BhasileSecurityManager, BhasileUserDBModelView, TerritoryFormMixin
from app.web.sessions import SignOutMixin

log = logging.getLogger(__name__)

PROVIDER = "proconnect"
DEFAULT_SCOPES = "openid email given_name usual_name"


def oidc_settings(env: Mapping[str, Any]) -> dict[str, Any]:
    """FAB settings for ProConnect read from ``env`` (the app's settings, which config.py reads
    from the environment); empty when no issuer is set."""
    issuer = (env.get("BHASILE_OIDC_ISSUER") or "").strip().rstrip("/")
    if not issuer:
        return {}
    remote = {
        "client_id": env.get("BHASILE_OIDC_CLIENT_ID", ""),
        "client_secret": env.get("BHASILE_OIDC_CLIENT_SECRET", ""),
        "server_metadata_url": f"{issuer}/.well-known/openid-configuration",
        "client_kwargs": {"scope": env.get("BHASILE_OIDC_SCOPES") or DEFAULT_SCOPES,
                          "timeout": 10},
    }
    return {
        "AUTH_TYPE": AUTH_OAUTH,
        "AUTH_USER_REGISTRATION": False,
        "AUTH_ROLES_SYNC_AT_LOGIN": False,
        "OAUTH_PROVIDERS": [{"name": PROVIDER, "icon": "fa-address-card", "token_key": "access_token",
                             "remote_app": remote}],
        "FAB_SECURITY_MANAGER_CLASS": "app.web.oidc.ProConnectSecurityManager",
        "BHASILE_OIDC_ISSUER": issuer,
    }


def _claims_from_userinfo(remote, token: dict) -> dict[str, Any]:
    """The userinfo claims; ProConnect answers with a signed JWT, others with JSON."""
    endpoint = remote.load_server_metadata().get("userinfo_endpoint")
    if not endpoint:
        return {}
    resp = remote.get(endpoint, token=token)
    resp.raise_for_status()
    if resp.headers.get("Content-Type", "").startswith("application/jwt"):
        from authlib.jose import jwt

        claims = jwt.decode(resp.text, remote.fetch_jwk_set())
        claims.validate()
        return dict(claims)
    return resp.json()


def userinfo_to_account(claims: dict[str, Any]) -> dict[str, Any]:
    """Map OIDC claims (ProConnect names first, standard names next) to FAB's user fields."""
    return {
        "email": (claims.get("email") or "").strip(),
        "first_name": claims.get("given_name") or "",
        "last_name": claims.get("usual_name") or claims.get("family_name") or "",
        "sub": claims.get("sub"),
    }


def _french_flashes() -> None:
    """FAB's OAuth messages are English literals: say them in French."""
    french = {"You denied the request to sign in.": _("Connexion ProConnect annulée."),
              "The request to sign in was denied.":
                  _("La connexion ProConnect a été refusée ou a échoué : réessayez."),
              "Invalid state signature": _("La connexion a expiré : recommencez."),
              "Provider not supported.": _("Fournisseur d'identité inconnu.")}
    flashes = session.get("_flashes") or []
    session["_flashes"] = [(cat, french.get(str(msg), msg)) for cat, msg in flashes]


class ProConnectAuthView(SignOutMixin, AuthOAuthView):
    """FAB's OAuth login, plus the "ask your administrator" page for agents without account;
    sign out by POST."""

    @expose("/oauth-authorized/<provider>")
    def oauth_authorized(self, provider: str):
        response = super().oauth_authorized(provider)
        _french_flashes()
        if g.get("oidc_without_account"):
            session.pop("_flashes", None)  # FAB's "invalid login" does not apply here
            session["oidc_email"] = g.oidc_without_account
            return redirect(url_for("AccessRequestView.index"))
        return response


class AccessRequestView(BaseView):
    """The page an agent without a BHasile account lands on after ProConnect."""

    route_base = "/acces"
    default_view = "index"

    @expose("/demande/")
    def index(self):
        email = session.get("oidc_email")
        return self.render_template("bhasile/security/access_request.html", email=email)


class ProConnectUserModelView(ReturnToMixin, TerritoryFormMixin, UserOAuthModelView):
    """The user admin screen without passwords: the territory fields as with passwords."""

    list_columns = BhasileUserDBModelView.list_columns
    add_columns = [c for c in BhasileUserDBModelView.add_columns if "password" not in c]
    edit_columns = BhasileUserDBModelView.edit_columns
    show_fieldsets = BhasileUserDBModelView.show_fieldsets
    user_show_fieldsets = BhasileUserDBModelView.user_show_fieldsets
    label_columns = BhasileUserDBModelView.label_columns
    description_columns = BhasileUserDBModelView.description_columns


class ProConnectSecurityManager(BhasileSecurityManager):
    """BHasile's security manager when ProConnect is configured."""

    authoauthview = ProConnectAuthView
    useroauthmodelview = ProConnectUserModelView

    def register_views(self) -> None:
        super().register_views()
        self.appbuilder.add_view_no_menu(AccessRequestView())

    def get_oauth_user_info(self, provider: str, resp: dict[str, Any]) -> dict[str, Any]:
        if provider != PROVIDER:
            return super().get_oauth_user_info(provider, resp)
        claims = dict(resp.get("userinfo") or {})  # ID token claims parsed by authlib
        claims.update(_claims_from_userinfo(self.oauth_remotes[provider], resp))
        return userinfo_to_account(claims)

    def auth_user_oauth(self, userinfo: dict[str, Any]):
        """The active account whose e-mail matches (case-insensitive); never creates one."""
        email = (userinfo.get("email") or "").strip()
        if not email:
            log.warning("ProConnect login without e-mail claim")
            return None
        user = self.session.execute(select(self.user_model).where(
            func.lower(self.user_model.email) == email.lower())).scalars().first()
        if user is None:
            log.info("ProConnect login without account", extra={"email": email})
            g.oidc_without_account = email
            return None
        if not user.is_active:
            flash(_("Votre compte BHasile est désactivé : contactez votre administrateur."),
                  "warning")
            return None
        self.update_user_auth_stat(user)
        return user


def init_app(app: Flask) -> None:
    """Switch the app to ProConnect when the environment configures it."""
    settings = oidc_settings(app.config)
    app.config.update(settings)
    if settings:
        log.info("ProConnect login enabled", extra={"issuer": settings["BHASILE_OIDC_ISSUER"]})
