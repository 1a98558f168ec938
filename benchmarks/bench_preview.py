"""Issue 15's figures: reading and preview speed against a baseline commit, and a preview's memory.

    python benchmarks/bench_preview.py [--scales 1 10] [--baseline 68fcaee] [--repeat 3]
                                       [--rounds 1] [--workdir DIR]

For each scale, on a scratch SQLite database with the demo park (kept in ``--workdir`` to be
reused), the park's full national export (every sheet, as ``flask bhasile export`` writes it)
is measured by this tree and by the baseline commit (``git archive`` of it, in a temporary
folder, run by the same interpreter), each in its own process:

- reading alone: ``imports.reader.read_file`` against python-calamine's own ``to_python()`` of
  every sheet of the same bytes (target ≤ 1.3×);
- the preview (``ImportCommand.validate()``, nothing written) of the file as the national
  administrator and as a Calvados agent (every row of another département refused), in rows
  read per second (target: ≥ 2× the baseline's);
- the peak memory (RSS) of one preview, in a fresh process (target ≤ 300 MB at ×10);
- this tree's web preview (``create_batch``: the file stored, previewed, its detail written in
  ``import_change``) against the pipeline alone (issue 21 item 2, target ≤ 1.3×).

A last line per scale says which target is met. The file is the park's untouched export (the
rows an agent leaves as exported: each recognised by its fingerprint, ``imports.fingerprint``);
at the scales of ``--resaved-scales``, the same file re-saved by LibreOffice is previewed too
(its rows still recognised: the figure is not only the best case). It is built once per ``--workdir`` folder by the tree that
first runs there: delete ``x*/full.xlsx`` after a change of the export (an export made before
the change history served as the merge's base holds hidden twin sheets, twice the bytes).

Times are CPU times (``time.process_time``, every thread of the process), best of ``--repeat``,
so that the other programs of a shared machine weigh little; wall times are printed beside, and
the load average before and after. A process's own luck (its string hashes' seed, where its memory
lands) moves a figure by some 10 %: ``--rounds N`` starts each tree's process N times, the
trees taking turns, and keeps each figure's best.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"BHASILE_IMPORT_MAX_ROWS": 10_000_000, "BHASILE_IMPORT_MAX_UNZIPPED_MB": 10_000,
          "BHASILE_IMPORT_MAX_CELLS": 100_000_000, "BHASILE_IMPORT_MAX_TEXT_MB": 10_000}


def _app(folder: Path):
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(folder),
                      "SQLALCHEMY_ENGINE_OPTIONS": {}})
    app.config.update(LIMITS)
    return app


def prepare(folder: Path, scale: int) -> Path:
    """The demo park ×scale and its full national export (built once per folder)."""
    target = folder / "full.xlsx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fresh = not (folder / "bench.db").exists()
    app = _app(folder)
    if fresh:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
        result = runner.invoke(args=["bhasile", "demo", "--scale", str(scale)])
        assert result.exit_code == 0, result.output
    with app.app_context():
        from app.extensions import db
        from app.scope import NATIONAL
        from exports.workbook import export_workbook

        export_workbook(db.session, str(folder / "part.xlsx"), NATIONAL)
        db.session.remove()
    (folder / "part.xlsx").rename(target)
    return target


def resave(folder: Path) -> Optional[Path]:
    """The export as LibreOffice re-saves it (built once per folder; ``None`` without it)."""
    target = folder / "resaved.xlsx"
    if target.exists() or shutil.which("soffice") is None:
        return target if target.exists() else None
    out = folder / "libreoffice"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{folder / 'soffice-profile'}",
                    "--headless", "--convert-to", "xlsx", "--outdir", str(out),
                    str(folder / "full.xlsx")], check=True, capture_output=True, timeout=1800)
    (out / "full.xlsx").rename(target)
    return target


def baseline_tree(rev: str, into: Path) -> Path:
    """The files of commit ``rev`` (no worktree, nothing written in the repository)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _best(fn, repeat: int) -> tuple[float, float, object]:
    """(best CPU time, best wall time, last result) of ``repeat`` calls, the collector paused
    as during a preview (``validate()`` pauses it itself)."""
    cpu = wall = float("inf")
    out = None
    for _ in range(repeat):
        out = None
        gc.collect()
        gc.disable()
        try:
            started, started_cpu = time.perf_counter(), time.process_time()
            out = fn()
            cpu = min(cpu, time.process_time() - started_cpu)
            wall = min(wall, time.perf_counter() - started)
        finally:
            gc.enable()
    return cpu, wall, out


ROOT_TREE = False   #: the worker measures this tree (not the baseline): its web path too


def worker(folder: Path, repeat: int, rss_only: bool, web: bool = False,
           name: str = "full.xlsx") -> dict:
    """Run in the measured tree's own process (its root first on ``sys.path``); a file other
    than the export (``name``): its previews only."""
    global ROOT_TREE
    ROOT_TREE = web and name == "full.xlsx"
    import python_calamine

    app = _app(folder)
    data = (folder / name).read_bytes()
    out: dict = {"mb": len(data) / 1e6}
    with app.app_context():
        from app.extensions import db
        from app.scope import NATIONAL, Scope
        from imports.pipeline import ImportCommand
        from imports.reader import Limits, read_file
        from models import Departement

        calvados = Scope(departement_ids=frozenset({db.session.query(Departement.id).filter_by(
            code="14").scalar()}), roles=frozenset({"Agent départemental"}))
        db.session.rollback()

        def preview(scope):
            def run():
                result = ImportCommand(data, "full.xlsx", scope).validate()
                db.session.rollback()
                return result
            return run

        if rss_only:
            result = preview(NATIONAL)()
            out["rows"] = result.rows_read
            out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return out
        if name != "full.xlsx":
            for label, scope in (("national", NATIONAL), ("calvados", calvados)):
                cpu, wall, result = _best(preview(scope), repeat)
                assert not result.problem, result.problem
                out[label] = (cpu, wall, result.rows_read, len(result.errors))
            return out
        limits = Limits(cells=100_000_000, text_mb=10_000)

        def ours():
            return sum(len(s.rows) for s in read_file(data, "full.xlsx", 10_000_000, 10_000, limits))

        def calamine_alone():
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            return sum(len(book.get_sheet_by_name(n).to_python()) for n in book.sheet_names)

        for name, fn in (("calamine", calamine_alone), ("read_file", ours)):
            out[name] = _best(fn, repeat)[:2]
        for name, scope in (("national", NATIONAL), ("calvados", calvados)):
            cpu, wall, result = _best(preview(scope), repeat)
            assert not result.problem, result.problem
            out[name] = (cpu, wall, result.rows_read, len(result.errors))
        if ROOT_TREE:   # the web path of this tree: the file stored, previewed, detail written
            from imports.batches import create_batch

            for name, scope in (("web national", NATIONAL), ("web calvados", calvados)):
                cpu, wall, _batch = _best(lambda: create_batch(data, "full.xlsx", scope)[0].id,
                                          repeat)
                out[name] = (cpu, wall)
    return out


def measure(tree: Path, folder: Path, repeat: int, rss_only: bool = False,
            name: str = "full.xlsx") -> dict:
    """The worker of ``tree``, in a process of its own, on the folder's database and file."""
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); sys.argv[0] = 'bench';"
            f"sys.path.insert(1, {str(ROOT / 'benchmarks')!r});"
            "import bench_preview as b; from pathlib import Path;"
            "print('RESULT' + json.dumps(b.worker(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == '1',"
            " sys.argv[5] == '1', sys.argv[6])))")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code, str(tree), str(folder), str(repeat),
                           "1" if rss_only else "0", "1" if tree == ROOT else "0", name], cwd=tree,
                          env=env, capture_output=True,
                          text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{tree}: {done.stderr[-3000:]}")
    return json.loads(line[len("RESULT"):])


def best_of(runs: list[dict]) -> dict:
    """Each figure's best (least CPU) of several processes' ``measure``."""
    out = dict(runs[0])
    for run in runs[1:]:
        for key, value in run.items():
            if isinstance(value, list) and value[0] < out[key][0]:
                out[key] = value
    return out


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(scale: int, figures: dict[str, dict], rss: dict[str, dict]) -> dict:
    """Prints the figures of one scale; returns its summary (``summary()``)."""
    now = figures["this tree"]
    out = {"reading": now["read_file"][0] / now["calamine"][0]}
    for label, f in figures.items():
        ratio = f["read_file"][0] / f["calamine"][0]
        print(f"×{scale} {label}: reading {f['mb']:.1f} MB: read_file CPU {f['read_file'][0]:.3f} s "
              f"(wall {f['read_file'][1]:.3f} s), python-calamine to_python() CPU "
              f"{f['calamine'][0]:.3f} s (wall {f['calamine'][1]:.3f} s) = {ratio:.2f}× CPU, "
              f"{f['read_file'][1] / f['calamine'][1]:.2f}× wall (target ≤ 1.3×)", flush=True)
    for scope in ("national", "calvados"):
        rates = {}
        for label, f in figures.items():
            cpu, wall, rows, errors = f[scope]
            rates[label] = rows / cpu
            print(f"×{scale} {label}: preview as {scope}: {rows:,} rows, {errors:,} errors, "
                  f"CPU {cpu:.2f} s = {rows / cpu:,.0f} rows/s (wall {wall:.2f} s)", flush=True)
        out[scope] = rates["this tree"] / rates["baseline"]
        print(f"×{scale} preview as {scope}: {out[scope]:.2f}× the "
              "baseline's rows/s (target ≥ 2×)", flush=True)
        if f"web {scope}" in now:
            cpu, wall = now[f"web {scope}"]
            out[f"web {scope}"] = cpu / now[scope][0]
            print(f"×{scale} web preview as {scope} (file stored, preview, detail written): CPU "
                  f"{cpu:.2f} s (wall {wall:.2f} s) = {out[f'web {scope}']:.2f}× the pipeline alone "
                  "(target ≤ 1.3×)", flush=True)
    if rss:
        out["rss"] = rss["this tree"]["rss_mb"]
        print(f"×{scale} peak RSS of one national preview ({now['national'][2]:,} rows): "
              + ", ".join(f"{label} {r['rss_mb']:,.0f} MB" for label, r in rss.items())
              + f" (target ≤ 300 MB; {rss['this tree']['rss_mb'] / rss['baseline']['rss_mb']:.2f}× "
              "the baseline's)", flush=True)
    return out


def report_resaved(scale: int, figures: dict[str, dict]) -> None:
    """The previews of the export re-saved by LibreOffice, against the baseline's."""
    for scope in ("national", "calvados"):
        rates = {label: f[scope][2] / f[scope][0] for label, f in figures.items()}
        cpu, _wall, rows, errors = figures["this tree"][scope]
        print(f"×{scale} re-saved by LibreOffice: preview as {scope}: {rows:,} rows, {errors:,} "
              f"errors, CPU {cpu:.2f} s = {rates['this tree']:,.0f} rows/s = "
              f"{rates['this tree'] / rates['baseline']:.2f}× the baseline's rows/s", flush=True)


def summary(found: dict[int, dict]) -> None:
    """One line per scale: each target, met or not."""
    for scale, f in found.items():
        parts = [f"reading {f['reading']:.2f}× calamine {'ok' if f['reading'] <= 1.3 else 'MISSED'}",
                 *(f"preview {scope} {f[scope]:.2f}× baseline {'ok' if f[scope] >= 2 else 'MISSED'}"
                   for scope in ("national", "calvados"))]
        parts += [f"{key} {f[key]:.2f}× pipeline {'ok' if f[key] <= 1.3 else 'MISSED'}"
                  for key in ("web national", "web calvados") if key in f]
        if "rss" in f:
            parts.append(f"peak {f['rss']:,.0f} MB {'ok' if f['rss'] <= 300 else 'MISSED'}")
        print(f"summary ×{scale}: " + "; ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--baseline", default="68fcaee", help="commit measured beside this tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1,
                        help="processes per tree (each figure: the best of them)")
    parser.add_argument("--workdir", type=Path, help="keeps the demo databases between runs")
    parser.add_argument("--rss-scales", type=int, nargs="*", default=[1, 10],
                        help="scales whose preview's peak memory is measured")
    parser.add_argument("--resaved-scales", type=int, nargs="*", default=[1],
                        help="scales whose export is also previewed as LibreOffice re-saves it")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"load average {_load()} on {os.cpu_count()} CPUs; baseline {args.baseline}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        base = baseline_tree(args.baseline, Path(tmp) / "baseline")
        trees = {"baseline": base, "this tree": ROOT}
        found: dict[int, dict] = {}
        for scale in args.scales:
            folder = work / f"x{scale}"
            prepare(folder, scale)
            runs: dict[str, list[dict]] = {label: [] for label in trees}
            for _round in range(args.rounds):   # the trees taking turns
                for label, tree in trees.items():
                    runs[label].append(measure(tree, folder, args.repeat))
            figures = {label: best_of(found) for label, found in runs.items()}
            rss = {label: measure(tree, folder, 1, rss_only=True) for label, tree in trees.items()} \
                if scale in args.rss_scales else {}
            found[scale] = report(scale, figures, rss)
            if scale in args.resaved_scales and resave(folder) is not None:
                report_resaved(scale, {label: measure(tree, folder, args.repeat, name="resaved.xlsx")
                                       for label, tree in trees.items()})
    summary(found)
    print(f"load average after: {_load()}", flush=True)


if __name__ == "__main__":
    main()
