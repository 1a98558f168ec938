"""Template helpers: French formatting of numbers, money, percentages and dates."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from flask import Flask
from flask_babel import format_decimal, format_percent

from app.heures import paris_time


def fr_number(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return "–"
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(str(value)), format=fmt)


def fr_money(value: Any) -> str:
    return "–" if value is None else f"{fr_number(value, 2)} €"


def fr_percent(value: Optional[float], digits: int = 0) -> str:
    if value is None:
        return "–"
    return format_percent(value, format="#,##0" + ("." + "0" * digits if digits else "") + " %")


def fr_date(value: Any) -> str:
    """A date as « 31/12/2026 »; a stored time (UTC) as Paris time « 31/12/2026 14:00 »."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return paris_time(value)
    return value.strftime("%d/%m/%Y")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(number=fr_number, money=fr_money, percent=fr_percent,
                                 date_fr=fr_date)
