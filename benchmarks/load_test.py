"""Load test: N concurrent agents on gunicorn + PostgreSQL, for a bounded time, loopback only.

Each virtual agent signs in through the login form, then browses structure lists (filtered,
sorted, searched), fiches, dashboards, « À traiter » and the map's data, and saves edits through the REST API (the JSON calls the grid makes, with the CSRF
header and the row version), pausing ``--think`` seconds on average between clicks.
Prints, per run, the request count, the error count and latency percentiles (target: 0
errors, p95 ≤ 300 ms), per kind of request and per URL (the slowest first: which page weighs
under load); ``--runs N`` makes N runs in a row on the same base and server (the issue asks for
5 runs without an error) and ends with one line per run.

    python benchmarks/load_test.py [--users 50] [--duration 60] [--workers 4] [--think 2] [--runs 1]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.schemathesis_run import PASSWORD, PG, build_demo_base  # noqa: E402

ACCOUNTS = {"admin": ["--role", "Administrateur"],
            "centrale": ["--role", "Administration centrale"],
            "normandie": ["--role", "Agent régional", "--region", "28"],
            "calvados": ["--role", "Agent départemental", "--departement", "14"]}
PAGES = ["/structureview/list/", "/structureview/list/?psize=100",
         "/structureview/list/?sort=nom&dir=desc",
         "/structureview/list/?type=CADA&places_min=50&places_max=150&sort=places_latest&dir=desc",
         "/structureview/list/?type=HUDA&type=CPH&bati=DIFFUS&psize=20&page=1",
         "/structureview/list/?fin_min=2025-01-01&sort=fin_convention",
         "/structureview/list/?q=Saint&psize=100",
         "/tableaux/", "/tableaux/national/FR/", "/tableaux/region/28/", "/tableaux/departement/14/",
         "/a-traiter/", "/a-traiter/documents/", "/carte/clusters.json?zoom=6&bbox=-5.5,41.0,10.0,51.5"]


def ignored_arguments(path: str) -> list[str]:
    """The query arguments of a structure list URL the list does not honour (each alone must
    change what views.structure_list.ListArgs reads): the load test measures real filters."""
    from urllib.parse import parse_qsl, urlsplit

    from werkzeug.datastructures import MultiDict

    from views.structure_list import ListArgs

    default = ListArgs.parse(MultiDict())
    return [f"{key}={value}" for key, value in parse_qsl(urlsplit(path).query)
            if ListArgs.parse(MultiDict([(key, value)])) == default]


class Stats:
    """Latencies (ms) per kind of request and per URL, and the errors seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.by_url: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def record(self, kind: str, started: float, error: str | None = None, url: str = "") -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies[kind].append(elapsed)
            self.by_url[url_key(url or kind)].append(elapsed)
            if error:
                self.errors.append(f"{kind}: {error}")


def url_key(url: str) -> str:
    """The URL a figure is kept under: a record's id replaced by ``<id>`` (every fiche is one
    page)."""
    return re.sub(r"/\d+(?=$|[/?])", "/<id>", url)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def sign_in(base: str, login: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = session.post(f"{base}/login/", timeout=30, allow_redirects=False,
                            data={"username": login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and "login" not in response.headers["Location"], login
    session.headers["X-CSRFToken"] = token
    return session


def _get(session, base, kind, path, stats) -> requests.Response | None:
    started = time.perf_counter()
    try:
        response = session.get(base + path, timeout=30)
    except requests.RequestException as exc:
        stats.record(kind, started, f"{type(exc).__name__}: {str(exc)[-90:]}", f"GET {path}")
        return None
    stats.record(kind, started, None if response.status_code == 200 else f"{response.status_code} {path}",
                 f"GET {path}")
    return response


def save_edit(session, base, pk: int, stats: Stats) -> None:
    """Read a structure's version, then save a changed name (as the grid does)."""
    current = _get(session, base, "save", f"/api/v1/structure/{pk}", stats)
    if current is None or current.status_code != 200:
        return
    row = current.json()["result"]
    name = row["nom"][:-2] if row["nom"].endswith(" ·") else row["nom"] + " ·"
    started = time.perf_counter()
    try:
        response = session.put(f"{base}/api/v1/structure/{pk}", timeout=30,
                               json={"nom": name, "version": row["version"]})
        error = None if response.status_code == 200 else f"{response.status_code} {response.text[:120]}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    stats.record("save", started, error, f"PUT /api/v1/structure/{pk}")


def agent(base: str, login: str, pages: list[str], fiches: list[int], own: list[int],
          deadline: float, think: float, stats: Stats) -> None:
    rng = random.Random(f"{login}-{threading.get_ident()}")
    started = time.perf_counter()
    try:
        session = sign_in(base, login)
    except (requests.RequestException, AssertionError, AttributeError) as exc:
        stats.record("connexion", started, f"{type(exc).__name__}: {str(exc)[-90:]}")
        return
    lists = [p for p in pages if p.startswith("/structureview/")]
    boards = [p for p in pages if not p.startswith("/structureview/")] or lists
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.35:
            _get(session, base, "liste", rng.choice(lists), stats)
        elif roll < 0.65:
            _get(session, base, "fiche", f"/structureview/show/{rng.choice(fiches)}", stats)
        elif roll < 0.85 or not own:
            _get(session, base, "tableau", rng.choice(boards), stats)
        else:
            save_edit(session, base, rng.choice(own), stats)
        time.sleep(rng.uniform(0, 2 * think))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, tmp: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "l" * 40, "BHASILE_INSTANCE_DIR": tmp,
           "BHASILE_LOG_LEVEL": "WARNING", "BHASILE_SCHEDULER": "0"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers),
                               "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
                               "--timeout", "120", "--keep-alive", "30", "run:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except requests.RequestException:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("le serveur n'a pas démarré (voir server.log)")


def targets(base: str) -> tuple[dict[str, list[str]], dict[str, list[int]], list[int]]:
    """Per account: the pages it may open in this version and the structures it sees."""
    pages, seen = {}, {}
    for login in ACCOUNTS:
        session = sign_in(base, login)
        pages[login] = [p for p in PAGES if session.get(base + p, timeout=60).status_code == 200]
        result = session.get(f"{base}/api/v1/structure/?q=(columns:!(id),page_size:500)",
                             timeout=60).json()["result"]
        seen[login] = [row["id"] for row in result]
    return pages, seen, seen["centrale"]


def run(args, url: str, tmp: str) -> int:
    ignored = {p: ignored_arguments(p) for p in PAGES if p.startswith("/structureview/list/")}
    if any(ignored.values()):
        raise SystemExit(f"arguments ignorés par la liste : {ignored}")
    build_demo_base(url, Path(tmp), ACCOUNTS)
    server, base = start_server(url, tmp, args.workers, args.threads)
    summary, errors = [], 0
    try:
        pages, seen, national = targets(base)
        for number in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"\n--- passage {number}/{args.runs}", flush=True)
            stats, elapsed = one_run(args, base, pages, seen, national)
            report(args, stats, elapsed, sorted(set(sum(pages.values(), []))))
            every = [v for values in stats.latencies.values() for v in values]
            summary.append((len(every), len(stats.errors), percentile(every, 50), percentile(every, 95),
                            os.getloadavg()[0]))
            errors += len(stats.errors)
            if stats.errors:  # what the server said about them
                log = (Path(tmp) / "server.log").read_text(errors="replace").splitlines()
                print("\n".join([line[:200] for line in log if "ERROR" in line or "CRITICAL" in line][-10:]))
    finally:
        server.terminate()
        server.wait(30)
    if args.runs > 1:
        print(f"\n{args.runs} passages (cible : 0 erreur, p95 ≤ 300 ms à chacun)")
        for number, (count, errs, p50, p95, load) in enumerate(summary, 1):
            verdict = "OK" if not errs and p95 <= 300 else "AU-DESSUS DE LA CIBLE"
            print(f"  passage {number} : requêtes {count:5}  erreurs {errs:3}  p50 {p50:5.0f} ms  "
                  f"p95 {p95:5.0f} ms  charge {load:5.2f}  {verdict}")
    return 1 if errors else 0


def one_run(args, base: str, pages: dict[str, list[str]], seen: dict[str, list[int]],
            national: list[int]) -> tuple[Stats, float]:
    """``args.users`` agents for ``args.duration`` seconds: (their figures, the time taken)."""
    editors = [login for login in ("centrale", "admin")]
    stats, threads = Stats(), []
    deadline = time.monotonic() + args.duration
    for n in range(args.users):
        login = list(ACCOUNTS)[n % len(ACCOUNTS)]
        own = national[n::args.users] if login in editors else []  # no two agents edit one row
        threads.append(threading.Thread(target=agent, daemon=True, args=(
            base, login, pages[login], seen[login] or national, own, deadline, args.think,
            stats)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.duration + 120)
    return stats, time.perf_counter() - started


def report(args, stats: Stats, elapsed: float, pages: list[str]) -> None:
    every = [v for values in stats.latencies.values() for v in values]
    print(f"{args.users} agents, {args.duration} s, gunicorn {args.workers} processus × "
          f"{args.threads} fils, PostgreSQL, pause moyenne {args.think} s ; pages : {', '.join(pages)}")
    print(f"requêtes : {len(every)} ({len(every) / elapsed:.1f}/s)  erreurs : {len(stats.errors)}  "
          f"p50 : {percentile(every, 50):.0f} ms  p95 : {percentile(every, 95):.0f} ms  "
          f"p99 : {percentile(every, 99):.0f} ms  charge : "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} processeurs)")
    for kind, values in sorted(stats.latencies.items()):
        print(f"  {kind:8} n={len(values):5}  p50 {percentile(values, 50):5.0f} ms  "
              f"p95 {percentile(values, 95):5.0f} ms  max {max(values):5.0f} ms")
    print("  par adresse (la plus lente d'abord, médiane) :")
    for url, values in sorted(stats.by_url.items(), key=lambda item: -percentile(item[1], 50)):
        print(f"    {percentile(values, 50):5.0f} ms  p95 {percentile(values, 95):5.0f} ms  "
              f"n={len(values):4}  {url}")
    for line in sorted(set(stats.errors))[:20]:
        print("  erreur :", line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60, help="secondes (borné)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--think", type=float, default=2.0, help="pause moyenne entre deux clics (s)")
    parser.add_argument("--runs", type=int, default=1,
                        help="passages successifs sur la même base et le même serveur")
    args = parser.parse_args()
    args.runs = max(1, min(args.runs, 20))
    args.duration = min(args.duration, 600)
    name = f"{os.environ.get('BHASILE_BENCH_DB_PREFIX', 'bh')}_load_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return run(args, f"{PG}/{name}", tmp)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
