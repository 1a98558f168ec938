"""« À traiter »: what needs an agent's action in their territory, each line linked to its record.

Each rubrique is read from ``agg_a_traiter`` (``app.pilotage.a_traiter``, rebuilt with the aggregates):
a count and the first lines, then the details of those lines only."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from flask import url_for
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
from app.extensions import db
from app.scope import current_scope
from models import AggStructure, Structure

MAX_LINES = 100


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


def sections(today: dt.date, size: int = MAX_LINES) -> list[Section]:
    """Every section of the page for the current user: per rubrique, the count in the
    territory and the first ``size`` lines, from the aggregates (``app.pilotage.a_traiter``)."""
    scope = current_scope()
    titles = _titles(today)
    out = []
    for key in RUBRIQUES:
        total, rows = a_traiter.page(db.session, key, scope, size)
        details = _details(key, rows, today) if rows else []
        lines = [(r[0], r[1], r[2] or "", d) for r, d in zip(rows, details)]
        more = url_for("DashboardView.structures", niveau="national", code="FR", alerte=key) \
            if key in ("occupation", "indues", "ecart") else None
        out.append(Section(key, titles[key], lines, more, total=total))
    dialogue = _dialogue_section(scope, today)
    dialogue.total = len(dialogue.lines)
    out.append(dialogue)
    return out


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
                                    max_lines=MAX_LINES, title=_("À traiter"))


MENU_ORDER = 7


def register(add, appbuilder) -> None:
    add(ATraiterView, "À traiter", _l("À traiter"), "Pilotage", _l("Pilotage"), icon="fa-tasks")
