"""Aggregates: full rebuild time on the demo park ×1 and ×10, and the dashboard page's median time.

Targets: rebuild ≤ 2 s (×1) and ≤ 20 s (×10) on SQLite and PostgreSQL; dashboard ≤ 100 ms median.

    python benchmarks/bench_aggregates.py [--scales 1 10] [--no-postgresql] [--requests 30]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PASSWORD = "chiffres-de-reference-2026"  # must not contain the account name
PAGES = ("/tableaux/national/FR/", "/tableaux/region/28/", "/tableaux/departement/14/")
BASELINE = "/"  # the home page: what any page costs (menus, permissions, session) before its content


def make_app(url: str, tmp: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": tmp,
                       "SQLALCHEMY_ENGINE_OPTIONS": {}, "WTF_CSRF_ENABLED": False})


def pg_database(name: str) -> str:
    engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{PG}/{name}"


def drop_pg(name: str) -> None:
    engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def prepare(app, scale: int) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
    result = runner.invoke(args=["bhasile", "demo", "--scale", str(scale)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.cli import create_or_update_user
        from models.enums import Role

        create_or_update_user("mesure", Role.CENTRAL, PASSWORD)


def time_rebuilds(app, runs: int = 3) -> list[float]:
    from app.pilotage.aggregates import rebuild
    from app.extensions import db

    times = []
    with app.app_context():
        for _ in range(runs):
            started = time.perf_counter()
            rebuild(db.engine)
            times.append(time.perf_counter() - started)
    return times


def time_pages(app, requests: int) -> dict[str, float]:
    client = app.test_client()
    client.post("/login/", data={"username": "mesure", "password": PASSWORD})
    medians = {}
    for path in (*PAGES, BASELINE):
        assert client.get(path).status_code == 200, path  # warm-up (templates, caches)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - started)
        medians[path] = statistics.median(times)
    return medians


def measure(backend: str, scale: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        name = f"bhasile_bench_agg_{scale}"
        url = pg_database(name) if backend == "postgresql" else f"sqlite:///{tmp}/bench.db"
        app = make_app(url, tmp)
        prepare(app, scale)
        times = time_rebuilds(app)
        limit = 2.0 * scale
        print(f"{backend:<10} ×{scale:<3} rebuild: min {min(times):.2f} s, median "
              f"{statistics.median(times):.2f} s (target ≤ {limit:.0f} s) "
              f"{'OK' if statistics.median(times) <= limit else 'TOO SLOW'}")
        for path, median in time_pages(app, requests).items():
            verdict = "(baseline: home page)" if path == BASELINE else \
                f"(target ≤ 100 ms) {'OK' if median <= 0.1 else 'TOO SLOW'}"
            print(f"{backend:<10} ×{scale:<3} page {path:<28} median {median * 1000:.0f} ms {verdict}")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
        if backend == "postgresql":
            drop_pg(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    backends = ["sqlite"] + ([] if args.no_postgresql else ["postgresql"])
    for backend in backends:
        for scale in args.scales:
            measure(backend, scale, args.requests)


if __name__ == "__main__":
    main()
