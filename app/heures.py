"""Times as people in France read them: stored in UTC, shown in Paris time.

Every ``DateTime`` column holds a naive UTC time (``models.base.utcnow``); pages and exports
show it through ``paris_time`` (the ``date_fr`` filter does for templates), and a page that
shows one is labelled once « heures de Paris » (``appbuilder/baselayout.html``).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

from flask import g, has_request_context

PARIS = ZoneInfo("Europe/Paris")


def to_paris(value: dt.datetime) -> dt.datetime:
    """A stored time (naive = UTC; an aware time as it says) as a naive Paris wall-clock time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(PARIS).replace(tzinfo=None)


def paris_time(value: Optional[dt.datetime], seconds: bool = False) -> str:
    """« 01/07/2026 14:00 »: a stored UTC time as Paris text (« – » when empty)."""
    if value is None:
        return "–"
    shown()
    return to_paris(value).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def paris_now() -> dt.datetime:
    """Now, in Paris time (naive): the date an export is made, as its reader means it."""
    return dt.datetime.now(PARIS).replace(tzinfo=None)


def shown() -> None:
    """Note that this page shows a time: the layout then labels it « heures de Paris »."""
    if has_request_context():
        g.bh_paris_times = True


def utc_of_paris_day(day: dt.date) -> dt.datetime:
    """The stored (UTC) time at which this Paris day starts: a period filter's bound."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=PARIS)
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)
