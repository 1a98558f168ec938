"""Full-workbook export on the demo park (×1 and ×10): time, ratio to raw xlsxwriter
(constant_memory) writing the same cells in the same process, and peak memory.

    python benchmarks/bench_export.py [--scales 1 10]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xlsxwriter  # noqa: E402

from app import create_app  # noqa: E402


def scratch_app(tmp: Path, scale: int, url: str | None = None):
    """A scratch instance with the demo park ×scale (SQLite unless ``url`` is given)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(tmp), "SQLALCHEMY_ENGINE_OPTIONS": {}})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
    result = runner.invoke(args=["bhasile", "demo", "--scale", str(scale)])
    assert result.exit_code == 0, result.output
    return app


def raw_write(path: str, data: dict, typed: bool) -> float:
    """Raw xlsxwriter (constant_memory): the same cells, already in memory.

    ``typed``: the write method per value type (write_string/number/datetime), as the
    exporter does; else xlsxwriter's generic ``write``.
    """
    started = time.perf_counter()
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    for name, (headers, rows) in data.items():
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, headers)
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if not typed:
                    ws.write(r, c, value)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, value)
                else:
                    ws.write_datetime(r, c, value, date_format)
    book.close()
    return time.perf_counter() - started


def cells(session) -> dict:
    """Every cell of the workbook, rendered as the exporter writes it."""
    from app.scope import NATIONAL
    from app.sheets import SHEETS
    from exports.queries import sheet_rows

    data = {}
    for sheet in SHEETS:
        renders = [c.kind.render for c in sheet.columns]
        rows = [[None if v is None else render(v) for v, render in zip(row, renders)]
                for row in sheet_rows(session, sheet, NATIONAL)]
        data[sheet.name] = ([c.label for c in sheet.columns], rows)
    return data


def measure(app, tmp: Path, scale: int, raw: bool = True) -> None:
    from app.extensions import db
    from app.scope import NATIONAL
    from exports.workbook import export_workbook

    with app.app_context():
        started = time.perf_counter()
        counts = export_workbook(db.session, str(tmp / "export.xlsx"), NATIONAL)
        export_s = time.perf_counter() - started
        db.session.rollback()
        rows = sum(counts.values())
        n_cells = raw_s = generic_s = 0
        if raw:
            data = cells(db.session)
            n_cells = sum(len(r) * len(h) for h, r in data.values())
            raw_s = raw_write(str(tmp / "raw.xlsx"), data, typed=True)
            generic_s = raw_write(str(tmp / "raw2.xlsx"), data, typed=False)
            del data
        tracemalloc.start()
        export_workbook(db.session, str(tmp / "export2.xlsx"), NATIONAL)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.rollback()
    size = (tmp / "export.xlsx").stat().st_size / 1e6
    print(f"×{scale}: {rows:,} rows, {n_cells:,} cells, file {size:.1f} MB", flush=True)
    print(f"    BHasile export (query + write) {export_s:6.2f} s  ({rows / export_s:,.0f} rows/s)")
    if raw:
        print(f"    raw xlsxwriter, same cells, typed writes  {raw_s:6.2f} s → ratio "
              f"{export_s / raw_s:.2f}× (target ≤ 1.5×)")
        print(f"    raw xlsxwriter, same cells, write()       {generic_s:6.2f} s → ratio "
              f"{export_s / generic_s:.2f}×")
    print(f"    peak Python memory (tracemalloc) during the export: {peak / 1e6:.1f} MB "
          f"(target ≤ 250 MB at ×10); process max RSS so far "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--no-raw", action="store_true", help="skip the raw xlsxwriter comparison")
    args = parser.parse_args()
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            app = scratch_app(Path(tmp), scale)
            print(f"(demo park ×{scale} built in {time.perf_counter() - started:.0f} s)")
            measure(app, Path(tmp), scale, raw=not args.no_raw)


if __name__ == "__main__":
    main()
