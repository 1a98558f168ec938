"""The daily pages on the demo park ×1 and ×10 (and ×30 when asked), in one run: server time
(Flask test client, median of 5 after a warm-up; the scales' requests interleaved, so that
the load of a shared machine weighs on both sides of a ratio alike) and the ×10/×1 ratio, on SQLite and, when
reachable, PostgreSQL. Logged in as a national user (administration centrale), as in the issue.
The web import preview and the web export of a département's workbook, as its agent (the
daily size of a file), are timed beside the same work done without the web (the pipeline
alone: ``ImportCommand.validate``, ``export_workbook``), interleaved likewise.

Targets (issue #21): every daily page ≤ 1.5× from ×1 to ×10 and ≤ 150 ms at ×10 on PostgreSQL;
the web preview and export ≤ 1.3× the pipeline alone.

    python benchmarks/bench_pages.py [--scales 1 10] [--no-postgresql] [--no-sqlite] [--runs 5]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_aggregates import drop_pg, make_app, pg_database  # noqa: E402

USER, PASSWORD = "banc-pages", "Mot-de-passe-du-banc-2026"
AGENT = "banc-calvados"   #: a département's agent (same password): the web import and export

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_PREFIX = os.environ.get("BHASILE_BENCH_PG_PREFIX", "bhasile_bench_pages")
TARGET_RATIO, TARGET_MS, TARGET_WEB = 1.5, 150.0, 1.3
#: The map's first request: mainland France at the page's initial zoom.
MAP_VIEW = "zoom=6&bbox=-5.5,41.0,10.0,51.5"


def prepare(app, scale: int) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
    result = runner.invoke(args=["bhasile", "demo", "--scale", str(scale)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        traceback.print_exception(result.exception)
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.cli import create_or_update_user
        from app.extensions import db
        from models.enums import Role

        create_or_update_user(USER, Role.CENTRAL, PASSWORD)
        create_or_update_user(AGENT, Role.DEPARTEMENTAL, PASSWORD, departements=["14"])
        # the planner's statistics, as autovacuum keeps them on a server in use (a base
        # filled a second ago has none, and PostgreSQL then picks nested loops everywhere:
        # the rebuild's current-convention subquery ran for minutes at x10)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    assert runner.invoke(args=["bhasile", "rebuild"]).exit_code == 0


def login(app, username: str = USER):
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    return client


def urls(app, client) -> dict[str, str]:
    """The pages measured, with arguments that depend on the park (the same at every scale)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from models import Departement, Region, Structure

    with app.app_context():
        normandie = db.session.scalar(select(Region.id).where(Region.code == "28"))
        calvados, commune = db.session.execute(
            select(Structure.id, Structure.commune).join(Departement)
            .where(Departement.code == "14").order_by(Structure.code_dna).limit(1)).one()
        del func
    clusters = client.get(f"/carte/clusters.json?{MAP_VIEW}")
    map_data = f"/carte/clusters.json?{MAP_VIEW}" if clusters.status_code == 200 \
        else "/carte/structures.json"
    return {
        "À traiter": "/a-traiter/",
        "map data": map_data,
        # an agent looks for a commune (« saint » alone matches 60 % of the demo park)
        "list + search": f"/structureview/list/?q={commune}&psize=50",
        "list": f"/structureview/list/?region={normandie}&psize=50",
        "fiche": f"/structureview/show/{calvados}",
        "national dashboard": "/tableaux/national/FR/",
        "grid page": "/grille/structures/donnees?page=1&size=100",
        "imports list": "/imports/",
    }


def median_ms(client, url: str, runs: int) -> tuple[float, int]:
    """Median server time of ``url`` (one warm-up first) and the answer's size."""
    response = client.get(url)  # warm-up: templates compiled, caches filled
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), len(response.get_data())


def build(backend: str, scale: int, tmp: str):
    """An app on a new database holding the demo park ×``scale``, its aggregates built."""
    name = f"{PG_PREFIX}_{scale}"
    url = pg_database(name) if backend == "postgresql" else f"sqlite:///{tmp}/bench-{scale}.db"
    app = make_app(url, tmp)
    started = time.perf_counter()
    prepare(app, scale)
    print(f"  {backend} ×{scale}: park built in {time.perf_counter() - started:.0f} s", flush=True)
    return app


def close(backend: str, scale: int, app) -> None:
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        drop_pg(f"{PG_PREFIX}_{scale}")


def measure(backend: str, scales: list[int], runs: int) -> dict[int, dict[str, tuple[float, int]]]:
    """Every page at every scale, the scales interleaved request by request (×1, ×10, ×1,
    ×10…): the machine's load at a given moment weighs on both sides of a ratio alike."""
    with tempfile.TemporaryDirectory() as tmp:
        apps = {scale: build(backend, scale, tmp) for scale in scales}
        try:
            clients = {scale: login(app) for scale, app in apps.items()}
            pages = {scale: urls(apps[scale], clients[scale]) for scale in scales}
            times: dict[int, dict[str, list[float]]] = {s: {} for s in scales}
            sizes: dict[int, dict[str, int]] = {s: {} for s in scales}
            for page in pages[scales[0]]:
                for scale in scales:  # warm-up
                    response = clients[scale].get(pages[scale][page])
                    assert response.status_code == 200, (pages[scale][page], response.status_code)
                    sizes[scale][page] = len(response.get_data())
                for _ in range(runs):
                    for scale in scales:
                        started = time.perf_counter()
                        response = clients[scale].get(pages[scale][page])
                        times[scale].setdefault(page, []).append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200
            web = {scale: web_and_pipeline(app, runs) for scale, app in apps.items()}
        finally:
            for scale, app in apps.items():
                close(backend, scale, app)
    pages_ = {s: {p: (statistics.median(times[s][p]), sizes[s][p]) for p in times[s]} for s in scales}
    return pages_, web


def web_and_pipeline(app, runs: int) -> dict[str, tuple[float, float]]:
    """(web, pipeline alone) medians in ms of the Calvados agent's workbook export and of the
    import preview of that file (uploaded, stored, previewed, the batch recorded)."""
    import re

    from exports.workbook import export_workbook
    from imports.pipeline import ImportCommand

    from app.extensions import db
    from app.scope import scope_of

    app.config["BHASILE_EXPORT_SYNC_MAX_ROWS"] = 10 ** 9   # measured in the request at ×30 too
    app.config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 10 ** 9
    client = login(app, AGENT)
    data = client.get("/exporter/classeur.xlsx").get_data()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/imports/").get_data(as_text=True))[1]

    def web_export():
        assert client.get("/exporter/classeur.xlsx").status_code == 200

    def web_preview():
        response = client.post("/imports/envoyer", content_type="multipart/form-data", data={
            "csrf_token": token, "annee": "", "fichier": (io.BytesIO(data), "calvados.xlsx")})
        assert response.status_code == 302 and "/imports/" in response.headers["Location"], response.status

    with app.app_context():
        scope = scope_of(app.appbuilder.sm.find_user(username=AGENT))

    def export_alone():
        with app.app_context(), tempfile.TemporaryDirectory() as tmp:
            export_workbook(db.session, f"{tmp}/c.xlsx", scope, user=AGENT)
            db.session.rollback()

    def preview_alone():
        with app.app_context():
            result = ImportCommand(data, "calvados.xlsx", scope).validate()
            assert not result.problem and not result.errors
            db.session.rollback()

    out = {}
    for label, web, alone in (("web export", web_export, export_alone),
                              ("web import preview", web_preview, preview_alone)):
        web(), alone()   # warm-up
        times: dict[Any, list[float]] = {web: [], alone: []}
        for _ in range(runs):
            for fn in (web, alone):
                started = time.perf_counter()
                fn()
                times[fn].append((time.perf_counter() - started) * 1000)
        out[label] = (statistics.median(times[web]), statistics.median(times[alone]))
    return out


def report_web(backend: str, web: dict[int, dict[str, tuple[float, float]]]) -> None:
    print(f"\n{backend}: the Calvados agent's file, web against the pipeline alone (median ms)")
    for label in next(iter(web.values())):
        cols = []
        for scale, figures in sorted(web.items()):
            in_web, alone = figures[label]
            ok = "OK" if in_web <= TARGET_WEB * alone else "ABOVE TARGET"
            cols.append(f"×{scale}: {in_web:7.1f} / {alone:7.1f} = {in_web / alone:4.2f}× {ok}")
        print(f"  {label:<20}" + "   ".join(cols))


def report(backend: str, results: dict[int, dict[str, tuple[float, int]]]) -> None:
    scales = sorted(results)
    base = scales[0]
    head = "".join(f"{'×' + str(s):>10}" for s in scales)
    # each scale against the one before: ×10/×1 (the target), then the growth ×10 → ×30
    ratios = "".join(f"{'×' + str(s) + '/×' + str(p):>9}" for p, s in zip(scales, scales[1:]))
    print(f"\n{backend}: median of the server times (ms), size of the answer at ×{scales[-1]}")
    print(f"  {'page':<20}{head}{ratios}   {'size':>9}  verdict")
    for page in results[base]:
        times = [results[s][page][0] for s in scales]
        cols = "".join(f"{t:>10.1f}" for t in times)
        rat = [t / before for before, t in zip(times, times[1:])]
        rcols = "".join(f"{r:>9.2f}" for r in rat)
        size = results[scales[-1]][page][1]
        verdict = ""
        if 10 in results and base == 1:
            r10, t10 = results[10][page][0] / times[0], results[10][page][0]
            ok = r10 <= TARGET_RATIO and (backend != "postgresql" or t10 <= TARGET_MS)
            verdict = "OK" if ok else "ABOVE TARGET"
        print(f"  {page:<20}{cols}{rcols}   {size / 1024:>7.0f} KB  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    backends = ([] if args.no_sqlite else ["sqlite"]) + ([] if args.no_postgresql else ["postgresql"])
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
          flush=True)
    for backend in backends:
        results, web = measure(backend, sorted(args.scales), args.runs)
        report(backend, results)
        report_web(backend, web)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
