"""A chart of a dashboard: its data once, drawn by Chart.js, shown as a table, downloaded as .xlsx.

The browser receives ``Chart.config()`` as JSON (a ``<script type="application/json">``);
the accessible table and the spreadsheet are rendered from the same rows.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Optional

import xlsxwriter


@dataclass
class Series:
    """One dataset of a chart: a name, one value per label, and how values read."""

    name: str
    values: list[Optional[float]]
    unit: str = ""  # "", "%", "€"
    kind: Optional[str] = None  # None: the chart's kind; "line" to overlay a line
    axis: str = "y"
    style: Optional[str] = None  # "marks": one mark per label (a ceiling), no joining line


@dataclass
class Chart:
    """A titled chart: labels (x axis), series, and the list URL behind each label."""

    key: str
    title: str
    labels: list[str]
    series: list[Series]
    kind: str = "bar"
    links: list[Optional[str]] = field(default_factory=list)
    label_header: str = ""
    stacked: bool = False

    def config(self) -> dict[str, Any]:
        """What static/bhasile/charts.js needs to draw the chart."""
        return {"type": self.kind, "labels": self.labels, "links": self.links,
                "stacked": self.stacked,
                "datasets": [{"label": s.name, "data": [_plain(v, s.unit) for v in s.values],
                              "type": s.kind, "yAxisID": s.axis, "unit": s.unit, "style": s.style}
                             for s in self.series]}

    def rows(self) -> list[list[Any]]:
        """Table rows: the label then one value per series."""
        return [[label, *[s.values[i] for s in self.series]] for i, label in enumerate(self.labels)]


def _plain(value: Optional[float], unit: str) -> Optional[float]:
    if value is None:
        return None
    return round(value * 100, 1) if unit == "%" else round(float(value), 2)


def xlsx_bytes(chart: Chart, subtitle: str = "") -> bytes:
    """The chart's data as a formula-safe workbook (text is never read as a formula)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("Données")
    bold = book.add_format({"bold": True})
    formats = {"%": book.add_format({"num_format": "0.0%"}),
               "€": book.add_format({"num_format": "#,##0.00 €"}),
               "": book.add_format({"num_format": "#,##0.##"})}
    sheet.write_string(0, 0, chart.title, bold)
    if subtitle:
        sheet.write_string(1, 0, subtitle)
    header = [chart.label_header or "", *[s.name for s in chart.series]]
    for col, text in enumerate(header):
        sheet.write_string(3, col, str(text), bold)
    for r, row in enumerate(chart.rows(), start=4):
        sheet.write_string(r, 0, str(row[0]))
        for c, value in enumerate(row[1:], start=1):
            if value is None:
                sheet.write_blank(r, c, None)
            else:
                sheet.write_number(r, c, float(value), formats[chart.series[c - 1].unit])
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, len(header), 18)
    book.close()
    return out.getvalue()
