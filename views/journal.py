"""The Journal: the change history of every record (and logins), for admins and central agents.

Filter by user, record, structure, origin, action and dates; export what is filtered to
CSV or Excel. Rows come from ``changement`` (written by ``app.audit`` from any path).
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
from sqlalchemy import and_, func, select

from app.extensions import db
from app.labels import LABELS
from app.scope import condition_for, current_scope
from models import Changement, Structure

PAGE_SIZE = 100
EXPORT_MAX = 100_000
HEADERS = ["at", "username", "origin", "batch_id", "action", "entity", "key", "field",
           "old_value", "new_value"]


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
        if self.since:
            conds.append(Changement.at >= self.since)
        if self.until:
            conds.append(Changement.at < self.until + dt.timedelta(days=1))
        return and_(*conds)


def _row(c: Changement) -> list:
    return [c.at.strftime("%Y-%m-%d %H:%M:%S"), c.username or "", c.origin, c.batch_id or "",
            c.action, c.entity, c.key or "", c.field or "", c.old_value or "", c.new_value or ""]


def _safe(value):
    """Cells starting like a formula are written as text (no formula injection)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


class JournalView(BaseView):
    """Who changed what, when and from where: the service's memory."""

    bhasile_area = "historique"
    route_base = "/journal"
    default_view = "list"

    @expose("/list/")
    @has_access
    def list(self):
        args = JournalArgs.parse(request.args)
        where = args.where()
        count = db.session.scalar(select(func.count(Changement.id)).where(where))
        rows = db.session.scalars(select(Changement).where(where)
                                  .order_by(Changement.at.desc(), Changement.id.desc())
                                  .offset(args.page * PAGE_SIZE).limit(PAGE_SIZE)).all()
        origins = db.session.scalars(select(Changement.origin).distinct().order_by(Changement.origin)).all()
        return self.render_template("bhasile/journal.html", rows=rows, count=count, args=args,
                                    origins=origins, labels=LABELS, page_size=PAGE_SIZE,
                                    query=request.args.to_dict(), appbuilder=self.appbuilder)

    @expose("/export/")
    @has_access
    def export(self):
        args = JournalArgs.parse(request.args)
        rows = db.session.scalars(select(Changement).where(args.where())
                                  .order_by(Changement.at.desc(), Changement.id.desc())
                                  .limit(EXPORT_MAX)).all()
        header = [_("Quand"), _("Qui"), _("Origine"), _("Lot"), _("Action"), _("Table"),
                  _("Clé"), _("Champ"), _("Ancienne valeur"), _("Nouvelle valeur")]
        stamp = dt.date.today().isoformat()
        if request.args.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";")
            writer.writerow(header)
            writer.writerows([_safe(v) for v in _row(r)] for r in rows)
            return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename=journal-{stamp}.csv"})
        return Response(_xlsx(header, rows), mimetype="application/vnd.openxmlformats-"
                        "officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=journal-{stamp}.xlsx"})


def _xlsx(header: list[str], rows: list[Changement]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    sheet = book.add_worksheet(_("Journal"))
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, header, bold)
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, _row(row))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, len(rows)), len(header) - 1)
    book.close()
    return buffer.getvalue()


MENU_ORDER = 80


def register(add, appbuilder) -> None:
    add(JournalView, "Journal", _l("Journal des modifications"), icon="fa-history")
