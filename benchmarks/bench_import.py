"""Import throughput on the demo park: preview (×1 and ×10, SQLite) and apply (PostgreSQL).

    python benchmarks/bench_import.py [--scales 1 10] [--no-postgresql]

Preview: the national workbook exported then read back (every row compared, nothing written).
Apply: an Activité sheet where every row changes (updates), then one of new months (inserts),
on PostgreSQL at 127.0.0.1:5432, with the change history written for every field.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_export import scratch_app  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def preview(app, tmp: Path, scale: int) -> None:
    from app.extensions import db
    from app.scope import NATIONAL
    from exports.workbook import export_workbook
    from imports.pipeline import ImportCommand

    with app.app_context():
        export_workbook(db.session, str(tmp / "all.xlsx"), NATIONAL)
        data = (tmp / "all.xlsx").read_bytes()
        started = time.perf_counter()
        result = ImportCommand(data, "all.xlsx", NATIONAL).validate()
        elapsed = time.perf_counter() - started
        db.session.rollback()
    changes = len(result.changes)
    print(f"preview ×{scale}: {result.rows_read:,} rows in {elapsed:.2f} s = "
          f"{result.rows_read / elapsed:,.0f} rows/s (target ≥ 10,000); {changes} changes, "
          f"{len(result.errors)} errors")


def _activite_file(session, shift_months: int | None) -> bytes:
    """Every Activité row, with places occupées changed (or moved to new months)."""
    import datetime as dt

    from app.scope import NATIONAL
    from app.sheets import BY_NAME
    from exports.queries import sheet_rows
    from exports.writer import WorkbookWriter

    sheet = BY_NAME["Activité"]
    out = io.BytesIO()
    writer = WorkbookWriter(out)

    def rows():
        for row in sheet_rows(session, sheet, NATIONAL):
            if shift_months is None:
                row[3] = (row[3] or 0) + 1
            else:
                row[1] = dt.date(row[1].year - shift_months // 12, row[1].month, 1)
            yield row

    writer.add_sheet(sheet, rows())
    writer.close()
    return out.getvalue()


def apply_pg(tmp: Path, scale: int) -> None:
    from app.extensions import db
    from app.scope import NATIONAL
    from imports.pipeline import ImportCommand

    name = f"bh_h4_bench_import_{scale}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    app = scratch_app(tmp, scale, f"{PG}/{name}")
    with app.app_context():
        for label, shift in (("updates", None), ("inserts", 24 * 12)):
            data = _activite_file(db.session, shift)
            command = ImportCommand(data, "activite.xlsx", NATIONAL)
            started = time.perf_counter()
            result = command.validate()
            check_s = time.perf_counter() - started
            started = time.perf_counter()
            command.run(origin="cli")
            apply_s = time.perf_counter() - started
            n = len(result.changes)
            print(f"apply PostgreSQL ×{scale} ({label}): {n:,} rows written in {apply_s:.2f} s = "
                  f"{n / apply_s:,.0f} rows/s (target ≥ 5,000); preview before it {check_s:.2f} s")
        db.session.remove()
        db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            preview(scratch_app(Path(tmp), scale), Path(tmp), scale)
    if not args.no_postgresql:
        with tempfile.TemporaryDirectory() as tmp:
            apply_pg(Path(tmp), 1)


if __name__ == "__main__":
    main()
