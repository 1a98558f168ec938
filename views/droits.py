"""« Droits par territoire » (administrators): who reaches a région or a département, and the
bulk add or removal of agents to it — one POST, all or nothing, every change in the history."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.web.hardening import form_token_ok
from app.audit import audit_context
from app.comptes import errors_of
from app.extensions import db
from models import BhasileUser, Departement, Region
from models.enums import Role

NATIONAL = {Role.ADMIN.value, Role.CENTRAL.value}


@dataclass
class Access:
    """One account reaching the territory: through which role and which territory."""

    user: BhasileUser
    roles: str
    territory: str
    direct: bool  # holds this very territory: the page may take it away


def _territory(kind: str, code: str):
    model = {"region": Region, "departement": Departement}.get(kind)
    found = db.session.scalar(select(model).where(model.code == code)) if model else None
    return found or abort(404)


def _users() -> list[BhasileUser]:
    return db.session.scalars(select(BhasileUser).options(selectinload(BhasileUser.roles))
                              .order_by(BhasileUser.last_name, BhasileUser.first_name,
                                        BhasileUser.username)).all()


def accesses(kind: str, place) -> list[Access]:
    """Every account that reaches ``place`` (a région or a département), and how."""
    region = place if kind == "region" else place.region
    found = []
    for user in _users():
        roles = {r.name for r in user.roles}
        label = ", ".join(sorted(roles))
        if roles & NATIONAL or (roles == {Role.LECTEUR.value} and not (user.regions or user.departements)):
            found.append(Access(user, label, _("tout le territoire national"), False))
            continue
        if region in user.regions:
            found.append(Access(user, label, region.nom, kind == "region"))
            continue
        deps = [d for d in user.departements
                if (d.region_id == region.id if kind == "region" else d.id == place.id)]
        if deps:
            found.append(Access(user, label, ", ".join(f"{d.code} {d.nom}" for d in deps),
                                kind == "departement"))
    return found


def candidates(kind: str, place) -> list[BhasileUser]:
    """The agents who could be given ``place``: agents of its kind who do not hold it yet."""
    role = Role.REGIONAL.value if kind == "region" else Role.DEPARTEMENTAL.value
    held = (lambda u: place in u.regions) if kind == "region" else (lambda u: place in u.departements)
    return [u for u in _users() if role in {r.name for r in u.roles} and not held(u)]


def _ids(name: str) -> tuple[set[int], bool]:
    values = request.form.getlist(name)
    good = {int(v) for v in values if v.isascii() and v.isdigit() and len(v) <= 9}
    return good, len(good) != len(values)


class DroitsView(BaseView):
    """Who has access to each territory; add or remove several agents at once."""

    route_base = "/droits"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("droits")
    def index(self):
        regions = db.session.scalars(select(Region).options(selectinload(Region.departements))
                                     .order_by(Region.nom)).all()
        return self.render_template("bhasile/droits/index.html", regions=regions,
                                    title=_("Droits par territoire"))

    @expose("/<kind>/<code>/")
    @has_access
    @permission_name("droits")
    def territoire(self, kind: str, code: str):
        place = _territory(kind, code)
        return self.render_template("bhasile/droits/territoire.html", kind=kind, place=place,
                                    accesses=accesses(kind, place), candidates=candidates(kind, place),
                                    csrf=generate_csrf(), title=_("Droits par territoire"))

    @expose("/<kind>/<code>/modifier", methods=["POST"])
    @has_access
    @permission_name("modifier_droits")
    def modifier(self, kind: str, code: str):
        place = _territory(kind, code)
        back = redirect(url_for(".territoire", kind=kind, code=code))
        if not form_token_ok():
            return back
        errors = apply_changes(kind, place)
        if errors:
            db.session.rollback()
            flash(_("Rien n'a été modifié : %(e)s", e=" ; ".join(errors)), "danger")
        return back


def apply_changes(kind: str, place) -> list[str]:
    """Add and remove the agents the form ticked, all or nothing: the refusals, else commits."""
    add, bad_add = _ids("ajouter")
    remove, bad_remove = _ids("retirer")
    if bad_add or bad_remove:
        return [_("la sélection n'est pas valable, rechargez la page")]
    if not add and not remove:
        return [_("cochez au moins un agent à ajouter ou à retirer")]
    addable = {u.id: u for u in candidates(kind, place)}
    removable = {a.user.id: a.user for a in accesses(kind, place) if a.direct}
    errors = [_("le compte n° %(n)s ne peut pas être ajouté à ce territoire", n=i)
              for i in sorted(add - set(addable))]
    errors += [_("le compte n° %(n)s n'a pas ce territoire", n=i) for i in sorted(remove - set(removable))]
    if errors:
        return errors
    field = "regions" if kind == "region" else "departements"
    changed: list[BhasileUser] = []
    with audit_context("droits"):
        for i in sorted(add):
            getattr(addable[i], field).append(place)
            changed.append(addable[i])
        for i in sorted(remove):
            getattr(removable[i], field).remove(place)
            changed.append(removable[i])
        for user in changed:
            errors += [f"{user.username} : {message}" for message in errors_of(user).values()]
        if errors:
            return errors
        db.session.commit()
    flash(_("Droits modifiés : %(a)s agent(s) ajouté(s), %(r)s retiré(s). Voir le journal pour "
            "le détail.", a=len(add), r=len(remove)), "success")
    return []


MENU_ORDER = 96


def register(add, appbuilder) -> None:
    # Added without ``add``: its menu entry gets no area, so only administrators see it.
    appbuilder.add_view(DroitsView, "Droits par territoire", label=_l("Droits par territoire"),
                        icon="fa-key", category="Security", category_label=_l("Sécurité"))
