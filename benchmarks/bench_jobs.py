"""The job queue (PostgreSQL, procrastinate) end to end: jobs per second through the queue, and
the time from « Exporter » to the downloaded file of a full ×1 and ×10 workbook, with one and
with two job workers (real processes), one web instance (gunicorn) and the files in an
S3-compatible server on the loopback (moto).

    python benchmarks/bench_jobs.py [--jobs 300] [--x1-url URL] [--x10-url URL] [--scales 1 10]

Without ``--x1-url`` / ``--x10-url`` the demo parks are generated in scratch databases
``bhasile_bench_jobs_x1`` / ``_x10`` (``--db-prefix``) of the local PostgreSQL server (×10 takes minutes).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tests.cluster import Browser, Processes, S3Server, base_env  # noqa: E402

SERVER = os.environ.get("BHASILE_BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
PASSWORD = "motdepasse-de-bench-2026"


def scratch_database(name: str, scale: int, tmp: Path) -> str:
    from app import create_app

    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{SERVER}/{name}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(tmp),
                      "SQLALCHEMY_ENGINE_OPTIONS": {}})
    runner = app.test_cli_runner()
    for args in (["bhasile", "init"], ["bhasile", "demo", "--scale", str(scale)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # planner statistics of the fresh park
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return url


def ensure_users(url: str, tmp: Path) -> None:
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(tmp),
                      "SQLALCHEMY_ENGINE_OPTIONS": {}})
    assert app.test_cli_runner().invoke(args=["bhasile", "init"]).exit_code == 0
    with app.app_context():
        from app.cli import create_demo_users
        from app.extensions import db

        create_demo_users(lambda: PASSWORD)
        db.session.remove()
        db.engine.dispose()


def queue_throughput(url: str, tmp: Path, n: int) -> float:
    """Jobs per second: ``n`` empty jobs deferred, then run by the workers already started."""
    from app import create_app
    from app.jobs.queue import enqueue

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(tmp),
                      "SQLALCHEMY_ENGINE_OPTIONS": {}, "BHASILE_QUEUE": "postgresql"})
    engine = sa.create_engine(url)
    started = time.perf_counter()
    with app.app_context():
        for i in range(n):
            enqueue("noop", n=i)
    while True:
        with engine.connect() as conn:
            left = conn.scalar(sa.text("SELECT count(*) FROM procrastinate_jobs "
                                       "WHERE task_name = 'noop' AND status IN ('todo', 'doing')"))
        if not left:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return n / elapsed


def export_seconds(agent: Browser, base: str) -> tuple[float, int]:
    """From the confirmed request to the last byte of the downloaded workbook."""
    started = time.perf_counter()
    job = agent.request_export(base)
    state = agent.wait_export(base, job, timeout=1800)
    assert state["status"] == "termine", state
    data = agent.get(base + state["download_url"]).content
    return time.perf_counter() - started, len(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--x1-url")
    parser.add_argument("--x10-url")
    parser.add_argument("--db-prefix", default="bhasile_bench_jobs",
                        help="names of the scratch databases (PREFIX_x1, PREFIX_x10)")
    args = parser.parse_args()
    try:
        sa.create_engine(f"{SERVER}/postgres").connect().close()
    except sa.exc.OperationalError:
        print(f"bench_jobs : PostgreSQL injoignable ({SERVER}) : la file de tâches n'existe que sur "
              "PostgreSQL, mesure ignorée.")
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    urls = {1: args.x1_url, 10: args.x10_url}
    print(f"{'parc':<5} {'workers':>7} {'tâches/s':>9} {'export (s)':>11} {'fichier':>10}")
    with S3Server() as s3:
        for scale in args.scales:
            url = urls.get(scale) or scratch_database(f"{args.db_prefix}_x{scale}", scale, tmp)
            ensure_users(url, tmp)
            for workers in (1, 2):
                env = base_env(url, tmp, {**s3.env(f"bench{scale}-{workers}"),
                                          "BHASILE_EXPORT_SYNC_MAX_ROWS": "5"})
                procs = Processes(tmp)
                try:
                    base = procs.web(f"web-{scale}-{workers}", env)
                    for i in range(workers):
                        procs.worker(f"worker-{scale}-{workers}-{i}", env)
                    time.sleep(3)  # the workers connect and listen
                    rate = queue_throughput(url.replace("postgresql://", "postgresql+psycopg://"),
                                            tmp, args.jobs)
                    agent = Browser("admin", PASSWORD, base)
                    seconds, size = export_seconds(agent, base)
                    print(f"×{scale:<4} {workers:>7} {rate:>9.0f} {seconds:>11.2f} "
                          f"{size / 1e6:>8.1f} Mo", flush=True)
                finally:
                    procs.stop()


if __name__ == "__main__":
    main()
