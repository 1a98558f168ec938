"""Security manager: FAB's, with BHasile users (scope), sessions and API tokens the server can
end (``app/web/sessions.py``), one password policy (``app/passwords.py``) and logins written to
the history."""
from __future__ import annotations

import functools
import logging

from flask import abort, flash, g, has_request_context, jsonify
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import assoc_permissionview_role
from flask_appbuilder.security.views import (
    AuthDBView,
    ResetMyPasswordView,
    ResetPasswordView,
    UserDBModelView,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import JWTManager
from sqlalchemy import select
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from app.web import sessions
from app.audit import record_event
from app.comptes import territory_errors
from app.heures import paris_time
from app.passwords import PasswordPolicy, account_of_request, login_in_form, login_of_pk, own_login
from app.web.return_to import ReturnToMixin
from models import BhasileUser

_SCOPE_FIELDS = ["regions", "departements", "operateur"]
#: The claim of an API token that carries its account's ``session_epoch``.
EPOCH_CLAIM = "bhe"


def _password_field(login_of) -> PasswordField:
    """« Mot de passe », under the policy for the account ``login_of(form)``."""
    return PasswordField(
        _l("Mot de passe"), validators=[DataRequired(), PasswordPolicy(login_of)],
        description=_l("Au moins 12 caractères, sans l'identifiant du compte ni mot de passe "
                       "courant : une phrase de plusieurs mots est idéale."),
        widget=BS3PasswordFieldWidget())


def _confirmation_field() -> PasswordField:
    return PasswordField(
        _l("Confirmation du mot de passe"), widget=BS3PasswordFieldWidget(),
        validators=[DataRequired(), EqualTo("password", message=_l(
            "Les deux mots de passe ne sont pas identiques."))])


class OwnPasswordForm(DynamicForm):
    """The signed-in user's new password."""

    password = _password_field(own_login)
    conf_password = _confirmation_field()


class AccountPasswordForm(DynamicForm):
    """The new password of the account ``?pk=``, set by an administrator."""

    password = _password_field(login_of_pk)
    conf_password = _confirmation_field()


def _territory_checked(form_class: type) -> type:
    """``form_class`` refusing an account whose territory does not fit its role
    (``app.comptes.territory_errors``): each refusal in French under its field."""

    def validate(self, extra_validators=None) -> bool:
        valid = form_class.validate(self, extra_validators=extra_validators)
        fields = {name: getattr(self, name, None) for name in ("roles", "regions", "departements",
                                                                "operateur")}
        if fields["roles"] is None:
            return valid
        data = {name: (f.data if f is not None else None) for name, f in fields.items()}
        errors = territory_errors([r.name for r in data["roles"] or []], bool(data["regions"]),
                                  bool(data["departements"]), bool(data["operateur"]))
        for name, message in errors.items():
            target = fields[name] if fields[name] is not None else fields["roles"]
            target.errors = [*target.errors, message]
        return valid and not errors

    return type(form_class.__name__, (form_class,), {"validate": validate})


class TerritoryFormMixin:
    """The user screen's forms check role ↔ territory; its times are shown in Paris time."""

    # FAB stamps these with the server's local time (``datetime.now()``), not UTC
    formatters_columns = {name: (lambda v: paris_time(v.astimezone()) if v else "–")
                          for name in ("created_on", "changed_on", "last_login")}

    def _init_forms(self):
        super()._init_forms()
        self.add_form = _territory_checked(self.add_form)
        self.edit_form = _territory_checked(self.edit_form)


class BhasileUserDBModelView(ReturnToMixin, TerritoryFormMixin, UserDBModelView):
    """The user admin screen, where admins also set a user's territory; « Mon compte » for all."""

    list_columns = ["first_name", "last_name", "username", "email", "active", "roles",
                    "regions", "departements", "operateur"]
    add_columns = UserDBModelView.add_columns + _SCOPE_FIELDS
    add_form_extra_fields = {"password": _password_field(login_in_form),
                             "conf_password": _confirmation_field()}
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles",
                    "groups"] + _SCOPE_FIELDS
    show_fieldsets = UserDBModelView.show_fieldsets + [
        (_l("Périmètre"), {"fields": _SCOPE_FIELDS, "expanded": True})
    ]
    user_show_fieldsets = UserDBModelView.user_show_fieldsets + [
        (_l("Périmètre"), {"fields": _SCOPE_FIELDS, "expanded": True})
    ]
    label_columns = {**UserDBModelView.label_columns, "groups": _l("Groupes"), "regions": _l("Régions"),
                     "departements": _l("Départements"), "operateur": _l("Opérateur")}
    description_columns = {
        "first_name": _l("Le ou les prénoms de la personne."),
        "last_name": _l("Le nom de famille de la personne."),
        "username": _l("L'identifiant de connexion, unique (par exemple prenom.nom)."),
        "password": _l("Le mot de passe de connexion du compte."),
        "conf_password": _l("Saisissez à nouveau le mot de passe pour le confirmer."),
        "active": _l("Décochez pour fermer l'accès sans supprimer le compte : son historique "
                     "est conservé."),
        "email": _l("L'adresse de courriel professionnelle de la personne."),
        "roles": _l("Ce que le compte peut faire. Agent régional : une ou plusieurs régions ; "
                    "agent départemental : un ou plusieurs départements ; opérateur : son "
                    "opérateur ; Administrateur et Administration centrale : tout le territoire, "
                    "sans région ni département."),
        "groups": _l("Groupes de rôles (facultatif) : le compte reçoit les rôles du groupe."),
        "regions": _l("Agent régional seulement : les régions qu'il suit (au moins une)."),
        "departements": _l("Agent départemental seulement : les départements qu'il suit "
                           "(au moins un)."),
        "operateur": _l("Compte opérateur seulement : l'opérateur dont il voit les structures."),
    }


class BhasileResetMyPasswordView(ResetMyPasswordView):
    """« Changer mon mot de passe »: this session goes on, the account's others end."""

    class_permission_name = "ResetMyPasswordView"  # the permission every role holds
    form = OwnPasswordForm
    form_title = _l("Changer mon mot de passe")

    def form_post(self, form: DynamicForm) -> None:
        sm = self.appbuilder.sm
        user = sm.get_user_by_id(g.user.id)
        sm.reset_password(user.id, form.password.data)
        sessions.renew(user)
        flash(_("Mot de passe modifié : vos autres sessions et vos jetons d'API sont fermés."),
              "success")


class BhasileResetPasswordView(ResetPasswordView):
    """An administrator sets someone's password (``?pk=``): that account's sessions end."""

    class_permission_name = "ResetPasswordView"
    form = AccountPasswordForm
    form_title = _l("Nouveau mot de passe du compte")

    def form_post(self, form: DynamicForm) -> None:
        sm = self.appbuilder.sm
        user = account_of_request()
        if user is None:
            abort(404)
        sm.reset_password(user.id, form.password.data)
        if user.id == g.user.id:
            sessions.renew(user)
        flash(_("Mot de passe modifié : les sessions et jetons d'API de ce compte sont fermés."),
              "success")


class BhasileAuthDBView(sessions.SignOutMixin, AuthDBView):
    """Sign in with a password; sign out by POST."""


def _jwt_refusal(message, *_args):
    """A refused API token: 401 with a French sentence (flask-jwt-extended's are English)."""
    return jsonify(message=str(message)), 401


class BhasileSecurityManager(SecurityManager):
    user_model = BhasileUser
    userdbmodelview = BhasileUserDBModelView
    authdbview = BhasileAuthDBView
    resetmypasswordview = BhasileResetMyPasswordView
    resetpasswordview = BhasileResetPasswordView

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids) -> bool:
        """FAB asks once per menu entry and link; answer from the roles' permissions, loaded
        once per request (a page used to cost one query per entry)."""
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        cached = g.get("_bh_permissions")
        if cached is None or cached[0] != key:
            cached = (key, self._role_permissions(role_ids))
            g._bh_permissions = cached
        return (view_name, permission_name) in cached[1]

    def _role_permissions(self, role_ids) -> set[tuple[str, str]]:
        pv, link = self.permissionview_model, assoc_permissionview_role
        rows = self.session.execute(
            select(self.viewmenu_model.name, self.permission_model.name)
            .select_from(pv).join(link, link.c.permission_view_id == pv.id)
            .join(self.permission_model, self.permission_model.id == pv.permission_id)
            .join(self.viewmenu_model, self.viewmenu_model.id == pv.view_menu_id)
            .where(link.c.role_id.in_(list(role_ids)))).all()
        return {(view, perm) for view, perm in rows}

    # -- sessions and API tokens ------------------------------------------------------------

    def load_user(self, pk):
        """The user of a session cookie: active, and its session still open (app/web/sessions.py)."""
        return sessions.signed_in_user(self.user_model, pk)

    def load_user_jwt(self, _jwt_header, jwt_data):
        """The user of an API token: active, and the token issued since its last password."""
        user = super().load_user(jwt_data["sub"])
        if user is None or jwt_data.get(EPOCH_CLAIM) != user.session_epoch:
            return None
        g.user = user
        return user

    def _epoch_claim(self, identity) -> dict:
        user = self.get_user_by_id(int(identity))
        return {EPOCH_CLAIM: user.session_epoch if user is not None else -1}

    def _token_revoked(self, _jwt_header, jwt_data) -> bool:
        return self.load_user_jwt(_jwt_header, jwt_data) is None

    def create_jwt_manager(self, app) -> JWTManager:
        """FAB's JWT manager; tokens carry the account's epoch and answer in French."""
        manager = super().create_jwt_manager(app)
        manager.additional_claims_loader(self._epoch_claim)
        manager.token_in_blocklist_loader(self._token_revoked)
        revoked = _l("Ce jeton n'est plus valable (mot de passe changé ou compte désactivé) : "
                     "reconnectez-vous.")
        for register, message in (
                (manager.revoked_token_loader, revoked),
                (manager.user_lookup_error_loader, revoked),
                (manager.expired_token_loader, _l("Jeton expiré : demandez-en un nouveau.")),
                (manager.invalid_token_loader, _l("Jeton invalide.")),
                (manager.unauthorized_loader,
                 _l("Jeton absent : connectez-vous (en-tête « Authorization: Bearer »).")),
                (manager.needs_fresh_token_loader,
                 _l("Cette action demande un jeton obtenu par une connexion récente."))):
            register(functools.partial(_jwt_refusal, message))
        return manager

    # -- passwords and history --------------------------------------------------------------

    def auth_user_db(self, username, password):
        """FAB's password check, telling the login guard that an attempt was made."""
        user = super().auth_user_db(username, password)
        g.bh_login_attempt = (username if isinstance(username, str) else "", user is not None)
        return user

    def on_user_login(self, user) -> None:
        self._record_login(user, "login")

    def on_user_login_failed(self, user) -> None:
        self._record_login(user, "login_failed")

    def on_user_logout(self, user) -> None:
        self._record_login(user, "logout")

    def _record_login(self, user, action: str) -> None:
        try:
            record_event(self.session, action, "ab_user", user.username, user.username, user.id)
            self.session.commit()
        except Exception:  # the history must never block a login
            logging.getLogger(__name__).exception("login event not recorded")
            self.session.rollback()
