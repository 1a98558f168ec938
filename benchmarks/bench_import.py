"""Import throughput on the demo park: preview and apply, on SQLite and PostgreSQL.

    python benchmarks/bench_import.py [--scales 1 10] [--backends sqlite postgresql] [--preview-only]
    BHASILE_BENCH_DB_PREFIX=bhasile_writes python benchmarks/bench_import.py --backends postgresql

For each backend and scale, on a scratch database with the demo park:
- re-import of the whole national workbook (every sheet), with every row of Places, Budgets
  and Activité changed (updates: 2 fields per row, so 2 history rows per row);
- import of Places, Budgets and Activité rows moved 30 years back (inserts: every field of a
  new row goes to the history).
Reading alone (imports.reader.read_file: the pre-scan that bounds memory, python-calamine, rows
as the pipeline takes them) is compared with python-calamine's own ``to_python()`` of every sheet
of the same file, best of 5 each, alternated (target ≤ 1.3×), wall and CPU time: the pre-scan
of each sheet runs in a thread beside calamine, so the wall time gains from a free second core.
Preview (dry run) rows/s counts the rows read; apply rows/s counts the rows written, with the
change history written for every field. The preview's SQL statements are counted (their
number must not grow with the rows). The machine's load average is printed: it is shared.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_export import scratch_app  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
SHIFT = 30  # years: inserted rows land where the demo park has none


def _updated(name: str, row: list) -> list:
    """The row with two fields changed, within the domain rules."""
    if name == "Places":        # places autorisées +1, places à créer +1
        row[2] = (row[2] or 0) + 1
        row[6] = (row[6] or 0) + 1
    elif name == "Budgets":     # dotation demandée +1 €, commentaire
        row[5] = (row[5] or Decimal(0)) + 1
        row[23] = "bench: ligne revue"
    elif name == "Activité":    # places autorisées +1, travaux +1
        row[2] = (row[2] or 0) + 1
        row[9] = (row[9] or 0) + 1
    return row


def _moved(name: str, row: list) -> list:
    """The row moved ``SHIFT`` years back (a new row)."""
    if name == "Activité":
        row[1] = dt.date(row[1].year - SHIFT, row[1].month, 1)
    else:
        row[1] = row[1] - SHIFT
    return row


def workbook(session, names: list[str], change) -> bytes:
    from app.scope import NATIONAL
    from app.sheets import BY_NAME
    from exports.queries import sheet_rows
    from exports.writer import WorkbookWriter

    out = io.BytesIO()
    writer = WorkbookWriter(out)
    for name in names:
        sheet = BY_NAME[name]
        rows = sheet_rows(session, sheet, NATIONAL)
        if name in ("Places", "Budgets", "Activité"):
            rows = (change(name, list(r)) for r in rows)
        writer.add_sheet(sheet, rows)
    writer.close()
    return out.getvalue()


def reading(data: bytes, label: str, repeat: int = 5) -> None:
    """Our reader against python-calamine alone, on the same bytes."""
    import python_calamine

    from imports.reader import Limits, read_file

    limits = Limits(cells=100_000_000, text_mb=10_000)

    def calamine_alone() -> int:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        return sum(len(book.get_sheet_by_name(name).to_python()) for name in book.sheet_names)

    def ours() -> int:
        return sum(len(s.rows) for s in read_file(data, "bench.xlsx", 10_000_000, 10_000, limits))

    wall = {calamine_alone: float("inf"), ours: float("inf")}
    cpu = dict(wall)
    gc.disable()        # as during a preview (imports.pipeline): the park's objects not walked
    try:
        for _ in range(repeat):
            for fn in wall:
                started, started_cpu = time.perf_counter(), time.process_time()
                fn()
                wall[fn] = min(wall[fn], time.perf_counter() - started)
                cpu[fn] = min(cpu[fn], time.process_time() - started_cpu)
    finally:
        gc.enable()
    print(f"{label}: reading {len(data) / 1e6:.1f} MB: read_file {wall[ours]:.3f} s "
          f"(CPU {cpu[ours]:.3f} s), python-calamine to_python() {wall[calamine_alone]:.3f} s "
          f"(CPU {cpu[calamine_alone]:.3f} s) = {wall[ours] / wall[calamine_alone]:.2f}× wall, "
          f"{cpu[ours] / cpu[calamine_alone]:.2f}× CPU (target ≤ 1.3×)", flush=True)


def web(data: bytes, label: str, repeat: int = 2) -> None:
    """The web preview (``create_batch``: the original stored, the preview, its detail written
    in bulk, committed) against the pipeline alone, in CPU time (best of ``repeat``, alternated:
    the machine is shared), then what the batch page and the Imports list read (issue 21
    item 2: target ≤ 1.3×)."""
    from app.extensions import db
    from app.scope import NATIONAL
    from imports import changes
    from imports.batches import create_batch, load_summary
    from imports.pipeline import ImportCommand
    from models.imports import ImportBatch

    pipeline_s = web_s = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        ImportCommand(data, "bench.xlsx", NATIONAL).validate()
        pipeline_s = min(pipeline_s, time.process_time() - started)
        db.session.rollback()
        gc.collect()
        started = time.process_time()
        batch, result = create_batch(data, "bench.xlsx", NATIONAL)
        web_s = min(web_s, time.process_time() - started)
    started = time.perf_counter()
    summary = load_summary(db.session.get(ImportBatch, batch.id))
    changes.page(db.session, batch.id, None, None, 0, 50)
    changes.page(db.session, batch.id, "modified", None, 50 * 100, 50)
    page_s = time.perf_counter() - started
    started = time.perf_counter()
    listed = [load_summary(b) for b in db.session.scalars(
        sa.select(ImportBatch).order_by(ImportBatch.id.desc()).limit(200))]
    list_s = time.perf_counter() - started
    db.session.rollback()
    print(f"{label}: web preview CPU {web_s:.2f} s = {web_s / pipeline_s:.2f}× the pipeline's "
          f"{pipeline_s:.2f} s (target ≤ 1.3×; {len(result.changes):,} changes in the detail, "
          f"counts {len(batch.counts or ''):,} characters); batch page's reads {page_s * 1000:.0f} ms "
          f"(pages 1 and 101); Imports list {list_s * 1000:.0f} ms for {len(listed)} batches; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    del summary


def history_rows(session) -> int:
    from models import Changement

    return session.scalar(sa.select(sa.func.count(Changement.id)))


def measure(app, backend: str, scale: int, preview_only: bool = False) -> None:
    from app.extensions import db
    from app.scope import NATIONAL
    from app.sheets import SHEETS
    from imports.pipeline import ImportCommand

    scenarios = (("full workbook, updates", [s.name for s in SHEETS], _updated),
                 ("Places+Budgets+Activité, inserts", ["Places", "Budgets", "Activité"], _moved))
    app.config["BHASILE_IMPORT_MAX_ROWS"] = 10_000_000  # ×10: beyond the default caps
    app.config["BHASILE_IMPORT_MAX_UNZIPPED_MB"] = 10_000
    app.config["BHASILE_IMPORT_MAX_CELLS"] = 100_000_000
    app.config["BHASILE_IMPORT_MAX_TEXT_MB"] = 10_000
    with app.app_context():
        for label, names, change in scenarios:
            data = workbook(db.session, names, change)
            db.session.rollback()
            if change is _updated:
                reading(data, f"{backend} ×{scale}")
            before = history_rows(db.session)
            db.session.rollback()
            command = ImportCommand(data, "bench.xlsx", NATIONAL)
            statements = []

            def count(_conn, _cursor, statement, *_args):
                statements.append(statement)

            sa.event.listen(db.engine, "before_cursor_execute", count)
            started = time.perf_counter()
            result = command.validate()
            preview_s = time.perf_counter() - started
            sa.event.remove(db.engine, "before_cursor_execute", count)
            assert not result.problem and not result.errors, (result.problem, result.errors[:5])
            web(data, f"{backend} ×{scale} {label}", 2 if scale == 1 else 1)
            if preview_only:
                db.session.rollback()
                print(f"{backend} ×{scale} {label}: preview {result.rows_read:,} rows in {preview_s:.2f} s "
                      f"= {result.rows_read / preview_s:,.0f} rows/s, {len(statements)} SQL statements",
                      flush=True)
                continue
            started = time.perf_counter()
            command.run(origin="cli")
            apply_s = time.perf_counter() - started
            n = len(result.changes)
            history = history_rows(db.session) - before
            db.session.rollback()
            print(f"{backend} ×{scale} {label}: preview {result.rows_read:,} rows in {preview_s:.2f} s "
                  f"= {result.rows_read / preview_s:,.0f} rows/s ({len(statements)} SQL statements); "
                  f"apply {n:,} rows in {apply_s:.2f} s "
                  f"= {n / apply_s:,.0f} rows/s (target ≥ 10,000 on PostgreSQL, ×1 and ×10); "
                  f"{history:,} history rows", flush=True)
        db.session.remove()
        db.engine.dispose()


def run_sqlite(scale: int, preview_only: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        measure(scratch_app(Path(tmp), scale), "SQLite", scale, preview_only)


def run_postgresql(scale: int, preview_only: bool) -> None:
    name = f"{os.environ.get('BHASILE_BENCH_DB_PREFIX', 'bh')}_bench_import_{scale}_{os.getpid()}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            measure(scratch_app(Path(tmp), scale, f"{PG}/{name}"), "PostgreSQL", scale, preview_only)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--preview-only", action="store_true", help="measure the preview alone")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs", flush=True)
    for scale in args.scales:
        for backend in args.backends:
            (run_sqlite if backend == "sqlite" else run_postgresql)(scale, args.preview_only)


if __name__ == "__main__":
    main()
