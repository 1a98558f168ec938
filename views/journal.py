"""The Journal: the change history of every record (and logins), for admins and central agents.

One entry per save (``app.historique``), expandable to its fields. Filter by user, structure,
origin, action, table and Paris days; export what is filtered to Excel or CSV, one line per
field. Rows come from ``changement`` (written by ``app.audit`` from any path).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Optional

from flask import Response, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from app.extensions import db
from app.heures import paris_now, utc_of_paris_day
from app.historique import ACTION_LABELS, ENTITY_LABELS, ORIGIN_LABELS, Entry, count_entries, entries
from app.scope import condition_for, current_scope
from models import Changement, Structure

PAGE_SIZE = 50
#: Saves an export holds at most.
EXPORT_MAX = 50_000
EXPORT_CHUNK = 1_000


def _date(value: Optional[str]) -> Optional[dt.date]:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


@dataclass
class JournalArgs:
    """The filters of the journal, from the query string."""

    user: str = ""
    entity: str = ""
    origin: str = ""
    action: str = ""
    code: str = ""
    structure: Optional[int] = None
    since: Optional[dt.date] = None
    until: Optional[dt.date] = None
    page: int = 0

    @classmethod
    def parse(cls, args) -> "JournalArgs":
        structure = args.get("structure", "")
        page = args.get("page", "0")
        return cls(user=args.get("user", "").strip(), entity=args.get("entity", "").strip(),
                   origin=args.get("origin", "").strip(), action=args.get("action", "").strip(),
                   code=args.get("code", "").strip(),
                   structure=int(structure) if structure.isdigit() else None,
                   since=_date(args.get("since")), until=_date(args.get("until")),
                   page=int(page) if page.isdigit() else 0)

    def where(self):
        conds = [condition_for(Changement, current_scope())]
        for value, column in ((self.user, Changement.username), (self.entity, Changement.entity),
                              (self.origin, Changement.origin), (self.action, Changement.action)):
            if value:
                conds.append(column == value)
        if self.structure:
            conds.append(Changement.structure_id == self.structure)
        if self.code:
            conds.append(Changement.structure_id.in_(
                select(Structure.id).where(Structure.code_dna == self.code.upper())))
        if self.since:  # the days of the filter are Paris days
            conds.append(Changement.at >= utc_of_paris_day(self.since))
        if self.until:
            conds.append(Changement.at < utc_of_paris_day(self.until + dt.timedelta(days=1)))
        return and_(*conds)


def _export_rows(items: list[Entry]) -> list[list]:
    """One line per changed field (an entry without fields: one line), in French."""
    out = []
    for e in items:
        head = [e.when, e.who, e.origin_text, e.code_dna, e.record,
                str(ACTION_LABELS.get(e.action, e.action))]
        out.extend([head + [d.label, d.old, d.new] for d in e.details] or [head + ["", "", ""]])
    return out


def _safe(value):
    """Cells starting like a formula are written as text (no formula injection)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


class JournalView(BaseView):
    """Who changed what, when and from where: the service's memory, one entry per save."""

    bhasile_area = "historique"
    route_base = "/journal"
    default_view = "list"
    #: the query arguments a saved view of the journal keeps (app/vues.py), and its export
    saved_view_args = frozenset({"user", "entity", "origin", "action", "code", "structure", "since",
                                 "until"})
    saved_view_export = "export"

    @expose("/list/")
    @has_access
    def list(self):
        args = JournalArgs.parse(request.args)
        where = args.where()
        scope = current_scope()
        count = count_entries(where)
        rows = entries(where, args.page * PAGE_SIZE, PAGE_SIZE, scope)
        origins = db.session.scalars(select(Changement.origin).distinct().order_by(Changement.origin)).all()
        return self.render_template("bhasile/journal.html", rows=rows, count=count, args=args,
                                    origins=origins, origin_labels=ORIGIN_LABELS,
                                    entity_labels=ENTITY_LABELS, action_labels=ACTION_LABELS,
                                    page_size=PAGE_SIZE, query=request.args.to_dict(),
                                    appbuilder=self.appbuilder)

    @expose("/export/")
    @has_access
    def export(self):
        args = JournalArgs.parse(request.args)
        where, scope, items = args.where(), current_scope(), []
        for offset in range(0, EXPORT_MAX, EXPORT_CHUNK):  # each query reads the rows of 1,000 saves
            chunk = entries(where, offset, EXPORT_CHUNK, scope)
            items += chunk
            if len(chunk) < EXPORT_CHUNK:
                break
        header = [_("Quand (heure de Paris)"), _("Qui"), _("Origine"), _("Structure"), _("Élément"),
                  _("Action"), _("Champ"), _("Ancienne valeur"), _("Nouvelle valeur")]
        rows = _export_rows(items)
        stamp = paris_now().date().isoformat()
        if request.args.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";")
            writer.writerow(header)
            writer.writerows([_safe(v) for v in r] for r in rows)
            return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename=journal-{stamp}.csv"})
        return Response(_xlsx(header, rows), mimetype="application/vnd.openxmlformats-"
                        "officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=journal-{stamp}.xlsx"})


def _xlsx(header: list[str], rows: list[list]) -> bytes:
    """The workbook of the export: every cell a string (``write_string``: never a formula)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    sheet = book.add_worksheet(_("Journal"))
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, header, bold)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            sheet.write_string(i, j, str(value))
    sheet.set_column(0, len(header) - 1, 22)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, len(rows)), len(header) - 1)
    book.close()
    return buffer.getvalue()


MENU_ORDER = 80


def register(add, appbuilder) -> None:
    add(JournalView, "Journal", _l("Journal des modifications"), icon="fa-history")
