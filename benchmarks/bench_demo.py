"""Demo park build: time for ×1, ×10, ×30 and ×100 on SQLite (and PostgreSQL when reachable),
SQLite file size, rows per table, peak memory of the process so far.

    python benchmarks/bench_demo.py [--scales 1 10 30 100] [--postgresql] [--no-sqlite]

Peak memory (``ru_maxrss``) only grows: run one scale per process to read it per build.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def build(url: str, tmp: Path, scale: int) -> tuple[float, float, dict[str, int]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40,
                      "INSTANCE_DIR": str(tmp), "SQLALCHEMY_ENGINE_OPTIONS": {}})
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["bhasile", "init"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    init_s = time.perf_counter() - started
    started = time.perf_counter()
    result = runner.invoke(args=["bhasile", "demo", "--scale", str(scale)])
    assert result.exit_code == 0, result.output
    demo_s = time.perf_counter() - started
    with app.app_context():
        from app.extensions import db

        with db.engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            counts = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in sorted(tables)
                      if not t.startswith("ab_") and t != "alembic_version"}
        db.engine.dispose()
    return init_s, demo_s, counts


def pg_database(name: str) -> str:
    engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{PG}/{name}"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
          flush=True)
    for scale in args.scales:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "bench.db"
                init_s, demo_s, counts = build(f"sqlite:///{path}", Path(tmp), scale)
                size = path.stat().st_size / 1e6
                print(f"SQLite ×{scale}: init {init_s:.2f} s, demo {demo_s:.2f} s, file {size:.1f} MB, "
                      f"{sum(counts.values()):,} rows, peak memory {_peak_mb():,.0f} MB", flush=True)
                for table, n in counts.items():
                    print(f"    {table:<24}{n:>10,}")
        if args.postgresql:
            name = f"{os.environ.get('BHASILE_BENCH_DB_PREFIX', 'bhasile')}_bench_demo_{scale}"
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    init_s, demo_s, counts = build(pg_database(name), Path(tmp), scale)
                    print(f"PostgreSQL ×{scale}: init {init_s:.2f} s, demo {demo_s:.2f} s, "
                          f"{sum(counts.values()):,} rows, peak memory {_peak_mb():,.0f} MB", flush=True)
            finally:
                engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                engine.dispose()


if __name__ == "__main__":
    main()
