"""A campaign's pre-filled workbook: its sheets holding exactly the user's structures of the
campaign, for the years it asks (the campaign itself: ``app.campagnes``)."""
from __future__ import annotations

from typing import IO, Optional, Union

from sqlalchemy import and_, extract, or_
from sqlalchemy.orm import Session

from app.campagnes import sheets_of, task_structure_ids
from app.scope import Scope
from models import ActiviteMensuelle, AdresseAnnee, BudgetAnnee, PlacesAnnee, Structure
from models.campagne import Campagne

from .queries import sheet_rows
from .writer import WorkbookWriter


def _campaign_where(sheet, structure_ids: list[int], years: list[int]):
    """Rows of the campaign's structures, and of its years for the yearly sheets."""
    condition = Structure.id.in_(structure_ids)
    if sheet.model is PlacesAnnee:
        return and_(condition, PlacesAnnee.annee.in_(years))
    if sheet.model is BudgetAnnee:
        return and_(condition, BudgetAnnee.annee.in_(years))
    if sheet.model is ActiviteMensuelle:
        return and_(condition, extract("year", ActiviteMensuelle.mois).in_(years))
    if sheet.parent is not None:
        return and_(condition, or_(AdresseAnnee.annee.in_(years), AdresseAnnee.annee.is_(None)))
    return condition


def export_prefilled(session: Session, target: Union[str, IO[bytes]], campagne: Campagne,
                     scope: Scope, user: Optional[str]) -> dict[str, int]:
    """The campaign's sheets holding exactly the user's structures of the campaign."""
    ids = task_structure_ids(session, campagne, scope) or [-1]
    writer = WorkbookWriter(target)
    counts = {}
    for sheet in sheets_of(campagne):
        where = _campaign_where(sheet, ids, campagne.years)
        counts[sheet.name] = writer.add_sheet(sheet, sheet_rows(session, sheet, scope, where))
    writer.add_meta(user, {"campagne": campagne.nom, "années": campagne.annees}, "clé de chaque feuille")
    writer.close()
    return counts
