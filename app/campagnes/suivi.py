"""Following a campaign: completion counts, late structures, reminders and the Excel export
(the pre-filled workbook of an opérateur's structures: ``exports.campagnes``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import IO, Any, Optional, Union

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents import missing_documents
from app.heures import paris_time
from app.scope import Scope, condition_for
from models import BhasileUser, BudgetAnnee, Departement, Operateur, PlacesAnnee, Structure
from models.campagne import SECTION_LABELS, SECTIONS, Campagne, StatutSection, StatutTache, Tache

from app.campagnes import PENDING


@dataclass
class Row:
    """One task as the dashboard lists it."""

    tache_id: int
    code_dna: str
    nom: Optional[str]
    departement: str
    operateur: str
    statut: StatutTache
    sections: dict[str, StatutSection]
    transmis_le: Optional[dt.datetime]


@dataclass
class Counts:
    """Tasks per status for one group (a département, an opérateur, the whole campaign)."""

    label: str
    by_status: dict[StatutTache, int] = field(default_factory=lambda: dict.fromkeys(StatutTache, 0))

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def transmitted(self) -> int:
        """Transmitted at least once and not reopened: transmis, à corriger or validé."""
        return sum(self.by_status[s] for s in (StatutTache.TRANSMIS, StatutTache.A_CORRIGER,
                                               StatutTache.VALIDE))

    def percent(self, n: int) -> int:
        return round(100 * n / self.total) if self.total else 0


def rows(session: Session, campagne: Campagne, scope: Scope) -> list[Row]:
    """The campaign's tasks within ``scope``, by département then code."""
    stmt = (select(Tache, Structure.code_dna, Structure.nom, Departement.code, Operateur.nom)
            .join(Structure, Tache.structure_id == Structure.id)
            .join(Departement, Structure.departement_id == Departement.id)
            .outerjoin(Operateur, Structure.operateur_id == Operateur.id)
            .where(Tache.campagne_id == campagne.id, condition_for(Tache, scope))
            .order_by(Departement.code, Structure.code_dna))
    return [Row(t.id, code, nom, dep, op or "—", t.statut, {s: t.section(s) for s in SECTIONS},
                t.transmis_le) for t, code, nom, dep, op in session.execute(stmt)]


def _group(items: list[Row], key) -> list[Counts]:
    groups: dict[str, Counts] = {}
    for row in items:
        label = key(row)
        groups.setdefault(label, Counts(label)).by_status[row.statut] += 1
    return [groups[k] for k in sorted(groups)]


@dataclass
class Dashboard:
    """Everything the campaign dashboard shows."""

    total: Counts
    by_departement: list[Counts]
    by_operateur: list[Counts]
    by_section: dict[str, dict[StatutSection, int]]
    late: list[Row]
    reminders: list[dict]
    rows: list[Row]


def dashboard(session: Session, campagne: Campagne, scope: Scope,
              today: Optional[dt.date] = None) -> Dashboard:
    """Completion of the campaign within ``scope``."""
    items = rows(session, campagne, scope)
    total = _group(items, lambda r: "Total") or [Counts("Total")]
    by_section = {s: {v: sum(1 for r in items if r.sections[s] is v) for v in StatutSection}
                  for s in SECTIONS}
    today = today or dt.date.today()
    late = [r for r in items if campagne.echeance and campagne.echeance < today and r.statut in PENDING]
    return Dashboard(total[0], _group(items, lambda r: r.departement),
                     _group(items, lambda r: r.operateur), by_section, late,
                     reminders(session, items), items)


def reminders(session: Session, items: list[Row]) -> list[dict]:
    """Per opérateur, the structures not transmitted yet and the accounts to remind."""
    pending: dict[str, list[Row]] = {}
    for row in items:
        if row.statut in PENDING:
            pending.setdefault(row.operateur, []).append(row)
    if not pending:
        return []
    emails: dict[str, list[str]] = {}
    stmt = (select(Operateur.nom, BhasileUser.email).join(BhasileUser, BhasileUser.operateur_id == Operateur.id)
            .where(Operateur.nom.in_(sorted(pending)), BhasileUser.active.is_(True)))
    for nom, email in session.execute(stmt):
        if email:
            emails.setdefault(nom, []).append(email)
    return [{"operateur": op, "structures": [r.code_dna for r in rs], "emails": sorted(emails.get(op, []))}
            for op, rs in sorted(pending.items())]


# --- Excel export of the dashboard --------------------------------------------------------------
def export_dashboard(board: Dashboard, campagne: Campagne, target: Union[str, IO[bytes]]) -> None:
    """The dashboard as a workbook; every text is written as text (never a formula)."""
    book = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False, "in_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    statuses = [str(s.label) for s in StatutTache]
    counts_header = ["Total", *statuses, "% transmis", "% validé"]
    for title, groups, first in (("Par département", board.by_departement, "Département"),
                                 ("Par opérateur", board.by_operateur, "Opérateur"),
                                 ("Synthèse", [board.total], "Campagne")):
        table = [[g.label, g.total, *[g.by_status[s] for s in StatutTache], g.percent(g.transmitted),
                  g.percent(g.by_status[StatutTache.VALIDE])] for g in groups]
        _table(book.add_worksheet(title), bold, [first, *counts_header], table)
    sections = [[str(SECTION_LABELS[s]), *[board.by_section[s][v] for v in StatutSection]] for s in SECTIONS]
    _table(book.add_worksheet("Par section"), bold, ["Section", *[str(v.label) for v in StatutSection]], sections)
    structures = [[r.code_dna, r.nom or "", r.departement, r.operateur, str(r.statut.label),
                   *[str(r.sections[s].label) for s in SECTIONS],
                   paris_time(r.transmis_le) if r.transmis_le else ""] for r in board.rows]
    _table(book.add_worksheet("Structures"), bold,
           ["Code DNA", "Nom", "Département", "Opérateur", "Statut",
            *[str(SECTION_LABELS[s]) for s in SECTIONS], "Transmis le"], structures)
    late = [[r.code_dna, r.nom or "", r.departement, r.operateur, str(r.statut.label)] for r in board.late]
    _table(book.add_worksheet("En retard"), bold, ["Code DNA", "Nom", "Département", "Opérateur", "Statut"], late)
    relances = [[x["operateur"], len(x["structures"]), ", ".join(x["structures"]), ", ".join(x["emails"])]
                for x in board.reminders]
    _table(book.add_worksheet("Relances"), bold, ["Opérateur", "Structures non transmises", "Codes DNA",
                                                  "Courriels"], relances)
    meta = book.add_worksheet("Campagne")
    for r, (k, v) in enumerate((("Campagne", campagne.nom), ("Années", campagne.annees),
                                ("Échéance", campagne.echeance.strftime("%d/%m/%Y") if campagne.echeance else ""))):
        meta.write_string(r, 0, k, bold)
        meta.write_string(r, 1, v)
    book.close()


def _table(ws, bold, header: list[str], data: list[list[Any]]) -> None:
    for c, text in enumerate(header):
        ws.write_string(0, c, text, bold)
        ws.set_column(c, c, max(12, len(text) + 2))
    for r, line in enumerate(data, 1):
        for c, value in enumerate(line):
            if isinstance(value, (int, float)):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(data), 1), len(header) - 1)


# --- what is still missing ----------------------------------------------------------------------
def points_a_verifier(session: Session, tache: Tache) -> dict[str, list[str]]:
    """Per section, what the campaign asks and the structure still lacks (shown, not blocking)."""
    from flask_babel import gettext as _


    years = tache.campagne.years
    sid = tache.structure_id
    points: dict[str, list[str]] = {s: [] for s in SECTIONS}
    for model, section, label in ((PlacesAnnee, "places", _("places")),
                                  (BudgetAnnee, "finances", _("budget"))):
        have = set(session.scalars(select(model.annee).where(model.structure_id == sid)))
        missing = [str(y) for y in years if y not in have]
        if missing:
            points[section].append(_("Années sans %(l)s : %(y)s", l=label, y=", ".join(missing)))
    for item in missing_documents(session, [sid], max(years) + 1):
        about = f" ({item.annee})" if item.annee else ""
        points["documents"].append(_("Document manquant : %(c)s%(a)s", c=item.categorie.label, a=about))
    return points
