"""Campagnes de collecte: list, opening (agents), dashboard with its Excel export, and the
finalisation page of one structure (agents validate section by section)."""
from __future__ import annotations

import datetime as dt
import io
from typing import Optional

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import case, exists, func, select
from werkzeug.routing import BuildError

from app.campagnes import (CAMPAIGN_SHEETS, DEFAULT_SHEETS, REVIEW, TRANSMISSION, CampagneError,
                           close_campagne, close_refusals, open_campagne, parse_years, review,
                           task_refusals)
from app.campagnes.suivi import dashboard, export_dashboard, points_a_verifier
from app.web.errors import refused_page
from app.extensions import db
from app.gate import WriteRefused
from app.scope import choosable_condition, condition_for, current_scope, find_inside
from models import BudgetAnnee, Departement, PlacesAnnee, Region
from models.campagne import SECTION_LABELS, SECTIONS, Campagne, StatutSection, StatutTache, Tache

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every POST here carries the form's CSRF token: ``app.web.hardening.csrf_check`` refuses the
# others (400, French page) before any of these views runs.


def scoped(model: type, pk: int):
    """A campaign row of the user's territory, else 404."""
    return find_inside(db.session, model, pk, current_scope()) or abort(404)


def _ids(values: list[str]) -> tuple[set[int], bool]:
    """The ids a form's list holds, and whether one of its values is no id at all."""
    good = [v for v in values if v.isascii() and v.isdigit() and len(v) <= 9]
    return {int(v) for v in good}, len(good) != len(values)


def link(endpoint: str, **kwargs) -> Optional[str]:
    """URL of a page that may not be installed (the grid), else ``None``."""
    try:
        return url_for(endpoint, **kwargs)
    except BuildError:
        return None


def section_links(tache: Tache) -> dict[str, list[tuple[str, str]]]:
    """Where to fill each section: the fiche's section and, when installed, the grid."""
    fiche = url_for("StructureView.show", pk=tache.structure_id)
    year = max(tache.campagne.years)
    links = {"identification": [(_("Fiche : description"), f"{fiche}#description")],
             "places": [(_("Fiche : places"), f"{fiche}#places"),
                        (_("Grille des places"), link("GrillePlacesView.page", annee=year))],
             "finances": [(_("Fiche : finances"), f"{fiche}#finances"),
                          (_("Grille des budgets"), link("GrilleBudgetsView.page", annee=year))],
             "documents": [(_("Fiche : documents"), f"{fiche}#documents")],
             "controles": [(_("Fiche : contrôle qualité"), f"{fiche}#qualite")]}
    links["places"] += _year_forms(tache, PlacesAnnee, "PlacesAnneeView", _("Places"))
    links["finances"] += _year_forms(tache, BudgetAnnee, "BudgetAnneeView", _("Budget"))
    return {k: [(label, url) for label, url in v if url] for k, v in links.items()}


def _year_forms(tache: Tache, model: type, view: str, label: str) -> list[tuple[str, Optional[str]]]:
    """The section's form for each year of the campaign: edit the year, or add it."""
    sm = current_app.appbuilder.sm
    rows = dict(db.session.execute(select(model.annee, model.id).where(
        model.structure_id == tache.structure_id, model.annee.in_(tache.campagne.years))).all())
    out = []
    for year in tache.campagne.years:
        if year in rows and sm.has_access("can_edit", view):
            out.append((f"{label} {year}", url_for(f"{view}.edit", pk=rows[year])))
        elif year not in rows and sm.has_access("can_add", view):
            out.append((_("%(l)s %(y)s : ajouter", l=label, y=year),
                        url_for(f"{view}.add", _flt_0_structure=tache.structure_id)))
    return out


class CampagneView(BaseView):
    """Collection campaigns of the user's territory and their follow-up."""

    route_base = "/campagnes"
    bhasile_area = "campagne"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_export", "can_add", "can_edit", "can_valider"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        scope = current_scope()
        done = func.sum(case((Tache.statut == StatutTache.VALIDE, 1), else_=0))
        stmt = (select(Campagne, func.count(Tache.id), done)
                .outerjoin(Tache, (Tache.campagne_id == Campagne.id) & condition_for(Tache, scope))
                .where(condition_for(Campagne, scope)).group_by(Campagne.id)
                .order_by(Campagne.ouverte_le.desc()))
        return self.render_template("bhasile/campagnes/index.html", campagnes=db.session.execute(stmt).all(),
                                    title=_("Campagnes de collecte"))

    @expose("/ouvrir", methods=["GET", "POST"])
    @has_access
    @permission_name("add")
    def ouvrir(self):
        scope = current_scope()
        form = request.form
        if request.method == "POST":
            try:
                campagne = self._open(form)
            except WriteRefused as exc:
                return refused_page(exc)
            except CampagneError as exc:
                for message in exc.messages:
                    flash(message, "danger")
            else:
                flash(_("Campagne ouverte : %(n)s structures à collecter.", n=len(campagne.taches)), "success")
                return redirect(url_for(".tableau", pk=campagne.id))
        deps = db.session.scalars(select(Departement).where(choosable_condition(Departement, scope))
                                  .order_by(Departement.code)).all()
        # a région is offered when all its départements are the user's: a campaign on it
        # covers them all
        foreign = exists().where(Departement.region_id == Region.id, ~condition_for(Departement, scope))
        regions = db.session.scalars(select(Region).where(condition_for(Region, scope), ~foreign)
                                     .order_by(Region.code)).all()
        year = dt.date.today().year
        return self.render_template(
            "bhasile/campagnes/ouvrir.html", deps=deps, regions=regions, sheets=CAMPAIGN_SHEETS,
            form=form, chosen=form.getlist("feuille") if request.method == "POST" else DEFAULT_SHEETS,
            default_years=f"{year - 5}-{year - 1}", csrf=generate_csrf(), title=_("Ouvrir une campagne"))

    def _open(self, form) -> Campagne:
        """Open the campaign the form describes: a région stands for all its départements, and
        the gate (``open_campagne``) refuses any of them outside the territory."""
        echeance = None
        if form.get("echeance"):
            try:
                echeance = dt.date.fromisoformat(form["echeance"])
            except ValueError:
                raise CampagneError([_("Échéance invalide : %(v)s.", v=form["echeance"][:20])])
        ids, garbage = _ids(form.getlist("departement"))
        region_ids, bad_region = _ids(form.getlist("region"))
        if region_ids:
            found = db.session.execute(select(Departement.region_id, Departement.id).where(
                Departement.region_id.in_(region_ids))).all()
            ids |= {dep for _region, dep in found}
            bad_region = bad_region or {region for region, _dep in found} != region_ids
        if garbage or bad_region:
            ids.add(-1)  # an unknown territory: refused with the others
        return open_campagne(db.session, current_scope(), form.get("nom", ""), ids,
                             parse_years(form.get("annees", "")), form.getlist("feuille"), echeance,
                             g.user.username)

    @expose("/<int:pk>/")
    @has_access
    @permission_name("show")
    def tableau(self, pk: int):
        campagne = scoped(Campagne, pk)
        scope = current_scope()
        board = dashboard(db.session, campagne, scope)
        can_close = self.appbuilder.sm.has_access("can_edit", "CampagneView") and not close_refusals(
            db.session, scope, campagne)
        return self.render_template("bhasile/campagnes/tableau.html", campagne=campagne, board=board,
                                    statuses=list(StatutTache), section_statuses=list(StatutSection),
                                    sections=SECTIONS, section_labels=SECTION_LABELS, csrf=generate_csrf(),
                                    can_close=can_close, today=dt.date.today(), title=campagne.nom)

    @expose("/<int:pk>/export.xlsx")
    @has_access
    @permission_name("export")
    def export(self, pk: int):
        campagne = scoped(Campagne, pk)
        out = io.BytesIO()
        export_dashboard(dashboard(db.session, campagne, current_scope()), campagne, out)
        out.seek(0)
        return send_file(out, mimetype=XLSX, as_attachment=True,
                         download_name=f"campagne-{campagne.id}-suivi.xlsx")

    @expose("/<int:pk>/cloturer", methods=["POST"])
    @has_access
    @permission_name("edit")
    def cloturer(self, pk: int):
        campagne = scoped(Campagne, pk)
        try:
            close_campagne(db.session, current_scope(), campagne)
        except WriteRefused as exc:
            return refused_page(exc)
        except CampagneError as exc:
            flash(str(exc), "danger")
        else:
            flash(_("Campagne clôturée."), "success")
        return redirect(url_for(".tableau", pk=pk))

    @expose("/tache/<int:pk>/")
    @has_access
    @permission_name("show")
    def tache(self, pk: int):
        tache = scoped(Tache, pk)
        sm, scope = self.appbuilder.sm, current_scope()
        return self.render_template(
            "bhasile/campagnes/tache.html", tache=tache, sections=SECTIONS, section_labels=SECTION_LABELS,
            links=section_links(tache), points=points_a_verifier(db.session, tache),
            can_review=sm.has_access("can_valider", "CampagneView")
            and not task_refusals(db.session, scope, tache, REVIEW),
            can_transmit=sm.has_access("can_transmettre", "TransmissionView")
            and not task_refusals(db.session, scope, tache, TRANSMISSION),
            csrf=generate_csrf(), title=str(tache.structure.code_dna))

    @expose("/tache/<int:pk>/section", methods=["POST"])
    @has_access
    @permission_name("valider")
    def section(self, pk: int):
        tache = scoped(Tache, pk)
        form = request.form
        try:
            review(db.session, current_scope(), tache, form.get("section", ""), form.get("decision", ""),
                   form.get("commentaire", ""), g.user.username)
        except WriteRefused as exc:
            return refused_page(exc)
        except CampagneError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "danger")
        else:
            flash(_("Section « %(s)s » : %(d)s.", s=SECTION_LABELS[form["section"]],
                    d=StatutSection(form["decision"]).label), "success")
        return redirect(url_for(".tache", pk=pk))


MENU_ORDER = 85


def register(add, appbuilder) -> None:
    add(CampagneView, "Campagnes", _l("Campagnes"), "Campagnes", _l("Campagnes de collecte"),
        icon="fa-bullhorn")
