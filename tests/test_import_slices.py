"""A big .xlsx sheet is read in slices of rows (``imports.slices``), so that its memory stays
bounded: what it reads must be exactly what the whole sheet read at once gives — values, row
numbers, last row, merged ranges — for files written by xlsxwriter (inline strings in
constant-memory mode, shared strings otherwise) and openpyxl; a file that only looks plain is
still refused before calamine builds anything."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imports import prescan, reader, slices
from imports.reader import FileProblem, open_file, read_file
from tests.test_import_hostile import xlsx

ROOT = Path(__file__).resolve().parents[1]

TEXT = st.text(alphabet='ab é<>&"\'#:!=e/t', max_size=12)
VALUE = st.one_of(st.none(), st.integers(-10**12, 10**12), TEXT, st.booleans(),
                  st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
                  st.datetimes(dt.datetime(1905, 1, 1), dt.datetime(2100, 1, 1)).map(
                      lambda d: d.replace(microsecond=0)))
ROWS = st.lists(st.tuples(st.integers(0, 3), st.lists(VALUE, max_size=6)), max_size=25)


def _xlsxwriter(rows, date1904: bool, merge: bool, constant_memory: bool) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": constant_memory, "date_1904": date1904,
                                     "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet, day = book.add_worksheet("Feuille"), book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    if merge and not constant_memory:
        sheet.merge_range("B2:C3", "groupe")
    for number, values in rows:
        for col, value in enumerate(values):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(number - 1, col, value, day)
            elif isinstance(value, str):
                sheet.write_string(number - 1, col, value)
            elif value is not None:
                sheet.write(number - 1, col, value)
    book.close()
    return out.getvalue()


def _openpyxl(rows, date1904: bool, merge: bool) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feuille"
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904 if date1904 else book.epoch
    for number, values in rows:
        for col, value in enumerate(values, 1):
            if value is not None:
                sheet.cell(number, col, value)
    if merge:
        sheet.merge_cells("B2:C3")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _numbered(rows) -> list[tuple[int, list]]:
    number, out = 0, []
    for gap, values in rows:
        number += gap + 1
        out.append((number, values))
    return out


def _read(data: bytes, head: int | None, measure_first: bool = True) -> list[tuple]:
    """Every sheet read; ``measure_first=False``: as a preview first reads a file (a sheet found
    not plain on the way: the file read again, measured first)."""
    try:
        with open_file(data, "f.xlsx", 200_000, 200, measure_first=measure_first) as book:
            out = []
            for name in book.names:
                raw = book.sheet(name, head=head)
                rows = raw.rows + list(raw.rest)
                out.append((name, rows, sorted(raw.merged), raw.date1904, raw.last_row))
            return out
    except reader.ReadAgain:
        assert not measure_first
        return _read(data, head)


def _trimmed(sheets: list[tuple]) -> list[tuple]:
    """The sheets, their rows without their trailing empty cells."""
    def trim(cells):
        while cells and cells[-1] is None:
            cells = cells[:-1]
        return cells
    return [(name, [(n, trim(c)) for n, c in rows], *rest) for name, rows, *rest in sheets]


def _whole(monkeypatch, data: bytes, head: int | None) -> list[tuple]:
    """The sheets read as any sheet that is not plain: whole, by calamine."""
    with monkeypatch.context() as m:
        never = lambda cells: (lambda markup: False)  # noqa: E731
        m.setattr(prescan, "plain_check", never)
        m.setattr(slices, "plain_check", never)
        return _read(data, head)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, writer=st.sampled_from(["xlsxwriter-cm", "xlsxwriter", "openpyxl"]),
       date1904=st.booleans(), merge=st.booleans(), head=st.sampled_from([None, 1, 3]),
       slice_rows=st.integers(1, 4), slice_bytes=st.sampled_from([1, 300, 1 << 20]),
       chunk=st.sampled_from([64, 700, 1 << 20]),
       streamed=st.sampled_from(["no", "measured", "unmeasured"]))
def test_a_sheet_read_in_slices_is_the_sheet_read_whole(monkeypatch, rows, writer, date1904, merge,
                                                        head, slice_rows, slice_bytes, chunk, streamed):
    """``streamed``: a sheet asked by its head is streamed, as a large one is — measured first,
    or (as a preview reads it) certified slice by slice, the file read again, measured, when it
    is not plain after all; « no »: small, it is read whole in one pass (``reader.WHOLE_BYTES``)."""
    numbered = _numbered(rows)
    if writer == "openpyxl":
        data = _openpyxl(numbered, date1904, merge)
    else:
        data = _xlsxwriter(numbered, date1904, merge, writer == "xlsxwriter-cm")
    whole = _whole(monkeypatch, data, head)
    monkeypatch.setattr(slices, "SLICE_ROWS", slice_rows)
    monkeypatch.setattr(slices, "SLICE_BYTES", slice_bytes)
    monkeypatch.setattr(prescan, "CHUNK", chunk)
    monkeypatch.setattr(reader, "WHOLE_BYTES", 0 if streamed != "no" else reader.WHOLE_BYTES)
    sliced = _read(data, head, measure_first=streamed != "unmeasured")
    if head is not None:      # known before the rows are read: the last cell's, even empty;
        assert all(s[4] >= w[4] for s, w in zip(sliced, whole))   # rows end with their slice
        whole = [(*w[:4], s[4]) for s, w in zip(sliced, whole)]
        sliced, whole = _trimmed(sliced), _trimmed(whole)
    assert sliced == whole
    assert sliced[0][3] == date1904


def _spied(monkeypatch) -> list[int]:
    """The size of every workbook calamine opens."""
    import python_calamine

    opened, real = [], python_calamine.CalamineWorkbook.from_filelike

    def spy(filelike, *args):
        opened.append(len(filelike.getvalue()))
        return real(filelike, *args)

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", spy)
    return opened


def _row(n: int) -> str:
    return f'<row r="{n}"><c r="A{n}"><v>{n}</v></c><c r="B{n}" t="inlineStr"><is><t>x</t></is></c></row>'


def _measured(monkeypatch) -> list[str]:
    """The sheets measured before they are read (a second pass over their markup)."""
    names, real = [], prescan._measure_sheet

    def spy(data, path, name, *args):
        names.append(name)
        return real(data, path, name, *args)

    monkeypatch.setattr(prescan, "_measure_sheet", spy)
    return names


def test_a_small_sheet_asked_by_its_head_is_read_in_one_pass(monkeypatch):
    """An agent's usual sheet is read whole as it is certified (its markup inflated once); a
    sheet over ``WHOLE_BYTES`` is measured first, then streamed: the same rows either way."""
    data = xlsx("".join(_row(n) for n in range(1, 301)))
    measured = _measured(monkeypatch)
    small = _read(data, 21)
    assert measured == []
    monkeypatch.setattr(reader, "WHOLE_BYTES", len(data) // 10)
    large = _read(data, 21)
    assert measured == ["Places"]
    assert small == large and len(small[0][1]) == 300


def test_a_large_sheet_read_as_a_preview_does_is_inflated_once(monkeypatch):
    """Asked by its head without a measure first (``measure_first=False``, the preview's way),
    a large plain sheet is certified slice by slice: never measured, the same rows, merged
    ranges and last row once read through; found not plain past its head (a formula far down),
    its rows raise ``ReadAgain`` (the preview starts over, measured first)."""
    monkeypatch.setattr(reader, "WHOLE_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_ROWS", 50)
    monkeypatch.setattr(prescan, "CHUNK", 700)        # the formula far from the head's markup
    measured = _measured(monkeypatch)
    data = xlsx("".join(_row(n) for n in range(1, 301)))
    assert _read(data, 21, measure_first=False) == _read(data, 21)
    assert measured == ["Places"]                     # by the second reading only
    formula = '<row r="301"><c r="A301"><f>1+1</f><v>2</v></c></row>'
    late = xlsx("".join(_row(n) for n in range(1, 301)) + formula)
    with open_file(late, "f.xlsx", 200_000, 200, measure_first=False) as book:
        raw = book.sheet("Places", head=21)
        assert raw.unmeasured and len(raw.rows) == 21
        with pytest.raises(reader.ReadAgain):
            list(raw.rest)


def test_a_big_plain_sheet_is_read_slice_by_slice_and_the_file_never_whole(monkeypatch):
    monkeypatch.setattr(slices, "SLICE_ROWS", 100)
    opened = _spied(monkeypatch)
    data = xlsx("".join(_row(n) for n in range(1, 1001)))
    [sheet] = read_file(data, "f.xlsx", 200_000, 200)
    assert [n for n, _ in sheet.rows] == list(range(1, 1001)) and sheet.last_row == 1000
    assert sheet.rows[-1][1] == [1000.0, "x"]
    assert len(opened) == 10 and len(data) not in opened


@pytest.mark.parametrize("far", ['<row r="7"><c r="XFD1048576"><v>1</v></c></row>',
                                 '<row r="1048576"><c r="A1048576"><v>1</v></c></row>',
                                 '<row r="7"><c r="A99999"><v>1</v></c></row>'])
def test_a_plain_looking_sheet_with_one_far_cell_is_refused_before_calamine(monkeypatch, far):
    """One cell far right or far down in a sheet of plain rows: the sheet is walked, the far
    cell found, the file refused before calamine builds anything."""
    monkeypatch.setattr(slices, "SLICE_ROWS", 2)
    opened = _spied(monkeypatch)
    rows = [_row(n) for n in range(1, 7)] + [far] + [_row(n) for n in range(8, 12)]
    with pytest.raises(FileProblem, match="« Places » (a des cellules jusqu'à la colonne|va jusqu'à)"):
        read_file(xlsx("".join(rows)), "f.xlsx", 50, 200, prescan.Limits(cells=1_000_000))
    assert opened == []


@pytest.mark.parametrize("far", ['<row r="7"><c r="XFD1048576"><v>1</v></c></row>',
                                 '<row r="1048576"><c r="A1048576"><v>1</v></c></row>',
                                 '<row r="90"><c r="A99999"><v>1</v></c></row>'])
def test_a_far_cell_in_a_large_sheet_streamed_without_measure_is_refused(monkeypatch, far):
    """The preview's way (``measure_first=False``, the sheet taken as large): a far cell past
    the head stops the stream (``ReadAgain``), the file read again measured is refused in French
    before calamine opens it whole; in the head, the sheet is walked and refused at once."""
    monkeypatch.setattr(reader, "WHOLE_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_ROWS", 2)
    monkeypatch.setattr(prescan, "CHUNK", 256)
    opened = _spied(monkeypatch)
    rows = [_row(n) for n in range(1, 7)] + [far] + [_row(n) for n in range(8, 120)]
    data = xlsx("".join(rows))
    refused = "« Places » (a des cellules jusqu'à la colonne|va jusqu'à)"
    limits = prescan.Limits(cells=1_000_000)
    with pytest.raises((reader.ReadAgain, FileProblem)) as first:
        with open_file(data, "f.xlsx", 500, 200, limits, measure_first=False) as book:
            list(book.sheet("Places", head=3).rest)
    if first.type is FileProblem:
        assert re.search(refused, str(first.value))
    with pytest.raises(FileProblem, match=refused):
        with open_file(data, "f.xlsx", 500, 200, limits) as book:
            list(book.sheet("Places", head=3).rest)
    assert len(data) not in opened and all(size < 4096 for size in opened)   # slices only


@pytest.mark.parametrize("slice_rows", [10, slices.SLICE_ROWS])
def test_a_preview_of_a_far_cell_in_a_large_sheet_is_refused_and_writes_nothing(app, monkeypatch,
                                                                                slice_rows):
    """Through the preview: the far cell past the head's slice (the stream stops, the preview
    starts over measured) or within it (the sheet walked at once): a French problem, nothing
    written."""
    from app.extensions import db
    from imports import pipeline
    from imports.pipeline import ImportCommand
    from models import PlacesAnnee

    readings, validate = [], pipeline.ImportCommand._validate

    def counted(self):
        readings.append(self.measure_first)
        return validate(self)

    monkeypatch.setattr(pipeline.ImportCommand, "_validate", counted)
    monkeypatch.setattr(reader, "WHOLE_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_ROWS", slice_rows)
    monkeypatch.setattr(prescan, "CHUNK", 256)
    head = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Code DNA</t></is></c><c r="B1" t="inlineStr">'
            '<is><t>Année</t></is></c><c r="C1" t="inlineStr"><is><t>Places autorisées</t></is></c></row>')
    body = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>C1401</t></is></c>'
                   f'<c r="B{n}"><v>2024</v></c><c r="C{n}"><v>{n}</v></c></row>' for n in range(2, 60))
    data = xlsx(head + body + '<row r="60"><c r="XFD60"><v>1</v></c></row>')
    with app.app_context():
        before = db.session.query(PlacesAnnee).count()
        result = ImportCommand(data, "f.xlsx").validate()
        db.session.rollback()
        assert result.problem and re.search("a des cellules jusqu'à la colonne", result.problem)
        assert db.session.query(PlacesAnnee).count() == before
    assert readings == ([False, True] if slice_rows == 10 else [False])


def test_rows_out_of_order_across_slices_are_refused(monkeypatch):
    """calamine would merge a row written twice; slices cannot: such a file (no spreadsheet
    writes one) is refused with a French sentence."""
    monkeypatch.setattr(slices, "SLICE_ROWS", 2)
    rows = [_row(n) for n in (1, 2, 3, 4, 2, 5)]
    with pytest.raises(FileProblem, match="les lignes ne sont pas dans l'ordre"):
        read_file(xlsx("".join(rows)), "f.xlsx", 200_000, 200)


def test_a_row_end_inside_cdata_is_not_cut(monkeypatch):
    """No spreadsheet writes CDATA, but a ``</row>`` inside one must not cut a slice: such a
    sheet is read whole."""
    monkeypatch.setattr(slices, "SLICE_ROWS", 1)
    data = xlsx(_row(1) + '<row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[a</row><row r="9">]]>'
                '</t></is></c></row>' + _row(3))
    assert _read(data, None) == _whole(monkeypatch, data, None)


def test_limits_still_hold_in_slices(monkeypatch):
    monkeypatch.setattr(slices, "SLICE_ROWS", 3)
    data = xlsx("".join(_row(n) for n in range(1, 21)))
    with pytest.raises(FileProblem, match="dépasse 10 lignes"):
        read_file(data, "f.xlsx", 10, 200)
    with pytest.raises(FileProblem, match="va jusqu'à la ligne 3"):
        read_file(xlsx("".join(_row(n) for n in range(1, 21)) + _row(3000)), "f.xlsx", 100, 200)


_BIG = """
import resource, sys, xlsxwriter
book = xlsxwriter.Workbook(sys.argv[1], {"constant_memory": True})
sheet = book.add_worksheet("Activité")
for r in range(int(sys.argv[2])):
    sheet.write_string(r, 0, f"R{r % 9999:04d}")
    for c in range(1, 12):
        sheet.write_number(r, c, r * c % 97)
book.close()
"""

_READ = """
import json, resource, sys
sys.path.insert(0, sys.argv[2])
data = open(sys.argv[1], "rb").read()
from imports.reader import Limits, open_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = 0
with open_file(data, "big.xlsx", 1_000_000, 1_000, Limits(cells=10_000_000, text_mb=1_000)) as book:
    for name in book.names:
        raw = book.sheet(name, head=21)
        rows += len(raw.rows) + sum(1 for _ in raw.rest)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"rows": rows, "grown_mb": grown, "file_mb": len(data) / 1e6}))
"""


def test_a_big_sheet_is_read_in_bounded_memory(tmp_path):
    """300,000 rows × 12 columns: calamine's whole grid of such a sheet grows the process by
    some 200 MB (+183 MB for 240,000 rows); read slice by slice, it stays far under."""
    path = tmp_path / "big.xlsx"
    subprocess.run([sys.executable, "-c", _BIG, str(path), "300000"], check=True, timeout=600)
    done = subprocess.run([sys.executable, "-c", _READ, str(path), str(ROOT)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["rows"] == 300_000
    assert report["grown_mb"] < 60, report
