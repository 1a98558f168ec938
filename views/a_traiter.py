"""« À traiter »: what needs an agent's action in their territory, each line linked to its record.

Each rubrique is read from ``agg_a_traiter`` (``app.pilotage.a_traiter``, rebuilt with the aggregates):
the page shows every rubrique's count (one grouped query) and its first ``PREVIEW_LINES``
lines; a rubrique's own page (``/a-traiter/<rubrique>/``) lists all its lines,
``PAGE_LINES`` a page. The details are computed for the lines shown only, so the page costs
what it shows, whatever the size of the territory."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from flask import abort, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.pilotage import a_traiter
from app.pilotage import completude
from app.pilotage.a_traiter import RUBRIQUES
from app.campagnes.dialogue_suivi import reminders
from app.documents import missing_documents
from app.web.errors import render_error
from app.extensions import db
from app.scope import current_scope
from models import AggStructure, Structure

#: Lines shown per rubrique on the page (the rest on the rubrique's own page).
PREVIEW_LINES = 20
#: Lines per page of a rubrique's own page.
PAGE_LINES = 50


@dataclass
class Section:
    """One kind of thing to handle: how many lines in the territory (``total``) and the first
    ones (structure id, code, name, detail)."""

    key: str
    title: str
    lines: list[tuple[int, str, str, str]] = field(default_factory=list)
    more_url: Optional[str] = None
    note: Optional[str] = None
    endpoint: str = "StructureView.show"   #: where a line links (its id is the page's ``pk``)
    total: int = 0
    all_url: Optional[str] = None   #: the rubrique's own page, when it has more lines than shown


def _status(end: dt.date, today: dt.date) -> str:
    if end < today:
        return _("Expirée le %(d)s", d=end.strftime("%d/%m/%Y"))
    return _("< 3 mois : fin le %(d)s", d=end.strftime("%d/%m/%Y"))


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _alert_details(ids: list[int]) -> dict[int, AggStructure]:
    return {a.structure_id: a for a in db.session.scalars(
        select(AggStructure).where(AggStructure.structure_id.in_(ids)))} if ids else {}


def _details(key: str, rows: list[tuple], today: dt.date) -> list[str]:
    """The detail column of the lines shown (computed for them only)."""
    ids = [r[0] for r in rows]
    if key in ("autorisations", "conventions"):
        return [_status(r[3], today) for r in rows]
    if key == "cpom":
        return [f"{r[4]} — {_status(r[3], today)}" for r in rows]
    if key == "budget":
        return [_("aucune dotation accordée") for _r in rows]
    if key in ("occupation", "indues", "ecart"):
        agg = _alert_details(ids)
        out = []
        for r in rows:
            g = agg.get(r[0])
            if g is None:
                out.append("")
            elif key == "occupation":
                out.append(_pct(g.taux_occupation))
            elif key == "indues":
                out.append(_("BPI %(b)s, déboutés %(d)s, total %(t)s", b=_pct(g.taux_bpi),
                             d=_pct(g.taux_deboutes), t=_pct(g.taux_indues)))
            else:
                out.append(_("%(p)s places, %(a)s aux adresses", p=g.places, a=g.places_adresses or 0))
        return out
    if key == "completude":
        fiches = completude.evaluate(db.session, Structure.id.in_(ids), completude.shown_years(today),
                                     documents=False)
        return [fiches[r[0]].summary(documents=False) if r[0] in fiches else "" for r in rows]
    if key == "documents":
        by_structure: dict[int, list] = {}
        for item in missing_documents(db.session, ids, today.year):
            by_structure.setdefault(item.structure_id, []).append(item)
        return [", ".join(f"{i.label}{f' {i.annee}' if i.annee else ''}"
                          for i in by_structure.get(r[0], [])) for r in rows]
    raise KeyError(key)


def _titles(today: dt.date) -> dict[str, str]:
    return {
        "autorisations": _("Autorisations expirées ou à échéance dans 3 mois"),
        "conventions": _("Conventions expirées ou à échéance dans 3 mois"),
        "cpom": _("CPOM expirés ou à échéance dans 3 mois"),
        "occupation": _("Taux d'occupation sous le seuil (12 derniers mois)"),
        "indues": _("Présences indues au-dessus des plafonds"),
        "ecart": _("Écart de plus de 10 % entre places et places des adresses"),
        "budget": _("Budget %(y)s manquant", y=today.year - 1),
        "completude": _("Fiches à compléter"),
        "documents": _("Documents obligatoires manquants"),
    }


def _section(key: str, title: str, total: int, rows: list[tuple], today: dt.date) -> Section:
    details = _details(key, rows, today) if rows else []
    lines = [(r[0], r[1], r[2] or "", d) for r, d in zip(rows, details)]
    more = url_for("DashboardView.structures", niveau="national", code="FR", alerte=key) \
        if key in ("occupation", "indues", "ecart") else None
    return Section(key, title, lines, more, total=total)


def sections(today: dt.date, size: int = PREVIEW_LINES) -> list[Section]:
    """Every section of the page for the current user: per rubrique, the count in the
    territory and the first ``size`` lines, from the aggregates (``app.pilotage.a_traiter``)."""
    scope = current_scope()
    titles = _titles(today)
    totals = a_traiter.counts(db.session, scope)
    out = []
    for key in RUBRIQUES:
        rows = a_traiter.page(db.session, key, scope, size) if totals[key] else []
        section = _section(key, titles[key], totals[key], rows, today)
        if section.total > len(section.lines):
            section.all_url = url_for("ATraiterView.rubrique", key=key)
        out.append(section)
    dialogue = _dialogue_section(scope, today)
    dialogue.total = len(dialogue.lines)
    out.append(dialogue)
    return out


def rubrique_section(key: str, today: dt.date, number: int) -> tuple[Section, int]:
    """(the section of page ``number`` (from 1) of rubrique ``key`` for the current user, the
    number of pages); ``LookupError`` for an unknown rubrique or a page past the last."""
    if key not in RUBRIQUES:
        raise LookupError(key)
    scope = current_scope()
    total = a_traiter.counts(db.session, scope)[key]
    pages = max(1, -(-total // PAGE_LINES))
    if not 1 <= number <= pages:
        raise LookupError(number)
    rows = a_traiter.page(db.session, key, scope, PAGE_LINES, (number - 1) * PAGE_LINES)
    return _section(key, _titles(today)[key], total, rows, today), pages


def _dialogue_section(scope, today: dt.date) -> Section:
    """The budget dialogue's next steps and deadlines, for the opérateur and for the agents."""
    return Section("dialogue", _("Dialogue budgétaire : échéances et relances"),
                   reminders(db.session, scope, today), endpoint="DialogueView.show")


class ATraiterView(BaseView):
    """The agent's to-do list across their territory."""

    route_base = "/a-traiter"
    bhasile_area = "dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        today = dt.date.today()
        return self.render_template("bhasile/a_traiter.html", sections=sections(today),
                                    title=_("À traiter"))

    @expose("/<key>/")
    @has_access
    @permission_name("dashboard")
    def rubrique(self, key: str):
        """All the lines of one rubrique, ``PAGE_LINES`` a page (``?page=``)."""
        raw = request.args.get("page", "1").strip()
        if not raw.isdigit() or len(raw) > 9:
            return render_error(400, _("Numéro de page « %(v)s » invalide : un nombre entier "
                                       "à partir de 1 est attendu.", v=raw[:20]))
        try:
            section, pages = rubrique_section(key, dt.date.today(), int(raw))
        except LookupError:
            abort(404)
        number = int(raw)
        first = (number - 1) * PAGE_LINES + 1
        return self.render_template("bhasile/a_traiter_rubrique.html", section=section,
                                    number=number, pages=pages, first=first,
                                    last=first + len(section.lines) - 1, title=section.title)


MENU_ORDER = 7


def register(add, appbuilder) -> None:
    add(ATraiterView, "À traiter", _l("À traiter"), "Pilotage", _l("Pilotage"), icon="fa-tasks")
