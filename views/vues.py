"""Saved views of lists and grids: create, rename, share, make a role's default, delete,
reopen and export (JSON for the toolbar's script, redirects for links).

Every write is described to the write gate (``app.gate``): the role's area ``vue``, the row
inside what the user may change (their own views: someone else's is 404), the shared
territory inside theirs, the role default reserved to administrators, the name and state
checked by ``app.rules``; the state's content is checked against its page by ``app.vues``.
A refusal answers a French message and writes nothing.
"""
from __future__ import annotations

import io
import json
from typing import Any

from flask import abort, g, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app import vues
from app.extensions import db
from app.gate import Gate, status_of
from app.scope import current_scope, find_inside
from models import Departement, Operateur, Region
from models.enums import Role
from models.vue import MAX_ETAT, VueEnregistree
from .grid_data import export_grid, parse_period

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROLES = {r.value for r in Role}


def _refuse(message: str, status: int, field: str | None = None):
    db.session.rollback()
    body = {"ok": False, "message": message}
    if field:
        body["field"] = field
    return jsonify(body), status


def _refused(errors: list):
    first = errors[0]
    status = status_of(errors)
    if status == 404:
        return _refuse(_("Vue introuvable ou hors de votre périmètre."), 404)
    return _refuse(" ; ".join(e.message for e in errors), status, first.field)


def _summary(vue: VueEnregistree) -> dict:
    return {"id": vue.id, "nom": vue.nom, "page": vue.page, "partagee": vue.partagee,
            "role_defaut": vue.role_defaut, "mine": vue.owner_id == current_scope().user_id,
            "url": vues.open_url(vue), "export": url_for("VueView.exporter", vue_id=vue.id)
            if vues.exportable(vue.page) else None}


class VueView(BaseView):
    """The saved views of the pages a user opens (JSON and links; the toolbar is in each page)."""

    route_base = "/vues"
    bhasile_area = "vue"
    base_permissions = ["can_list", "can_edit"]
    default_view = "mine"

    # --- reading ----------------------------------------------------------------------------
    def _readable(self, vue_id: int) -> VueEnregistree:
        vue = find_inside(db.session, VueEnregistree, vue_id, current_scope())
        if vue is None or vues.page_target(vue.page) is None:
            abort(404)
        return vue

    @expose("/page/<path:page>")
    @has_access
    @permission_name("list")
    def mine(self, page: str = ""):
        if vues.page_target(page) is None:
            return _refuse(_("Page inconnue : aucune vue enregistrée possible."), 404)
        return jsonify(ok=True, vues=[_summary(v) for v in vues.visible_views(page)])

    @expose("/<int:vue_id>/etat")
    @has_access
    @permission_name("list")
    def etat(self, vue_id: int):
        vue = self._readable(vue_id)
        return jsonify(ok=True, vue=_summary(vue), etat=json.loads(vue.etat))

    @expose("/<int:vue_id>/ouvrir")
    @has_access
    @permission_name("list")
    def ouvrir(self, vue_id: int):
        return redirect(vues.open_url(self._readable(vue_id)))

    @expose("/<int:vue_id>/exporter")
    @has_access
    @permission_name("list")
    def exporter(self, vue_id: int):
        """The view's rows and columns as the page shows them, to Excel (the user's scope)."""
        vue = self._readable(vue_id)
        kind, view = vues.page_target(vue.page)
        state = json.loads(vue.etat)
        if kind == "liste" and getattr(view, "saved_view_export", None):   # a page's own export
            return redirect(url_for(f"{type(view).__name__}.{view.saved_view_export}",
                                    **MultiDict([tuple(p) for p in state.get("args", [])]).to_dict(flat=False)))
        if kind == "liste":
            if not isinstance(view, ModelView) or \
                    not self.appbuilder.sm.has_access("can_export", "ExportView"):
                abort(404)
            pairs = [tuple(p) for p in state.get("args", [])]
            if state.get("colonnes"):
                pairs.append((vues.COLUMNS_ARG, ",".join(state["colonnes"])))
            args = MultiDict(pairs)
            return redirect(url_for("ExportView.view", view_name=type(view).__name__,
                                    **args.to_dict(flat=False)))
        if not self.appbuilder.sm.has_access("can_export", view.class_permission_name):
            abort(404)

        args = MultiDict(vues.grid_args(state))
        hidden = [c["field"] for c in state.get("columns", []) if not c.get("visible", True)]
        out = io.BytesIO()
        export_grid(view.spec, current_scope(), parse_period(view.spec, args), args, hidden, out,
                    g.user.username)
        out.seek(0)
        name = f"grille-{view.slug}-{_file_name(vue.nom)}.xlsx"
        return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name)

    # --- writing ----------------------------------------------------------------------------
    def _payload(self) -> dict | None:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None

    def _values(self, body: dict, vue: VueEnregistree | None):
        """(values for the gate, None) or (None, refusal)."""
        values: dict[str, Any] = {}
        page = vue.page if vue is not None else body.get("page")
        if vue is None and vues.page_target(page) is None:
            return None, _refuse(_("Page inconnue : aucune vue enregistrée possible."), 404)
        if vue is None:
            values["page"] = page
        if "nom" in body or vue is None:
            nom = body.get("nom")
            values["nom"] = nom.strip() if isinstance(nom, str) else nom
        if "etat" in body or vue is None:
            raw = body.get("etat")
            text = json.dumps(raw, ensure_ascii=False, separators=(",", ":")) if raw is not None else ""
            if len(text) > MAX_ETAT:
                return None, _refuse(_("État de la vue trop volumineux (%(n)d caractères au plus).",
                                       n=MAX_ETAT), 413, "etat")
            try:
                values["etat"] = json.dumps(vues.clean_state(page, raw), ensure_ascii=False,
                                            separators=(",", ":"))
            except vues.BadState as bad:
                return None, _refuse(str(bad), 422, "etat")
        if "partagee" in body:
            if not isinstance(body["partagee"], bool):
                return None, _refuse(_("Partage illisible : oui ou non."), 422, "partagee")
            values["partagee"] = body["partagee"]
            if body["partagee"]:
                territory = vues.share_territory(current_scope())
                for key, model in (("region_id", Region), ("departement_id", Departement),
                                   ("operateur_id", Operateur)):
                    if key in body:   # a territory asked for: the gate says if it is the user's
                        ident = body[key]
                        if ident is not None and (not isinstance(ident, int) or isinstance(ident, bool)
                                                  or not 0 < ident < 2**31
                                                  or db.session.get(model, ident) is None):
                            return None, _refuse(_("Territoire de partage inconnu."), 422, key)
                        territory[key] = ident
                values.update(territory)
        if "role_defaut" in body:
            role = body["role_defaut"] or None
            if role is not None and (not isinstance(role, str) or role not in ROLES):
                return None, _refuse(_("Rôle inconnu."), 422, "role_defaut")
            values["role_defaut"] = role
        return values, None

    def _write(self, vue: VueEnregistree | None):
        if request.content_length and request.content_length > MAX_ETAT + 4000:
            return _refuse(_("État de la vue trop volumineux (%(n)d caractères au plus).", n=MAX_ETAT),
                           413, "etat")
        body = self._payload()
        if body is None:
            return _refuse(_("Demande illisible : un objet JSON est attendu (rien n'a été écrit)."), 400)
        values, refusal = self._values(body, vue)
        if refusal is not None:
            return refusal
        errors = Gate(current_scope()).check(VueEnregistree, vue, values)
        if errors:
            return _refused(errors)
        created = vue is None
        if created:
            vue = VueEnregistree(owner_id=current_scope().user_id)
            db.session.add(vue)
        for key, value in values.items():
            setattr(vue, key, value)
        db.session.flush()
        if vue.role_defaut:   # one default per role and page
            for other in db.session.query(VueEnregistree).filter(
                    VueEnregistree.page == vue.page, VueEnregistree.role_defaut == vue.role_defaut,
                    VueEnregistree.id != vue.id):
                other.role_defaut = None
        db.session.commit()
        message = _("Vue « %(n)s » enregistrée.", n=vue.nom)
        return jsonify(ok=True, message=message, vue=_summary(vue)), 201 if created else 200

    def _own(self, vue_id: int) -> VueEnregistree:
        """A view the user reads (else 404); the gate decides whether they may change it."""
        return self._readable(vue_id)

    @expose("/", methods=["POST"])
    @has_access
    @permission_name("edit")
    def creer(self):
        return self._write(None)

    @expose("/<int:vue_id>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def modifier(self, vue_id: int):
        return self._write(self._own(vue_id))

    @expose("/<int:vue_id>/supprimer", methods=["POST"])
    @has_access
    @permission_name("edit")
    def supprimer(self, vue_id: int):
        vue = self._own(vue_id)
        errors = Gate(current_scope()).check_delete(VueEnregistree, vue)
        if errors:
            return _refused(errors)
        nom = vue.nom
        db.session.delete(vue)
        db.session.commit()
        return jsonify(ok=True, message=_("Vue « %(n)s » supprimée.", n=nom))


def _file_name(text: str) -> str:
    import re
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-").lower()[:40] or "vue"


MENU_ORDER = 95


def register(add, appbuilder) -> None:
    appbuilder.add_view_no_menu(VueView)
