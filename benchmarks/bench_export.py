"""Full-workbook export on the demo park (×1 and ×10): time, ratio to raw xlsxwriter
(constant_memory) writing the same cells in the same process, and peak memory.

    python benchmarks/bench_export.py [--scales 1 10] [--repeat 3] [--no-raw]
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing
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
    """Raw xlsxwriter (constant_memory): the same cells, already in memory, without formats
    except dates (the first baselines, kept for comparison).

    ``typed``: the write method per value type (write_string/number/datetime); else
    xlsxwriter's generic ``write``.
    """
    started = time.perf_counter()
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    for name, sheet in data.items():
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, sheet["headers"])
        for r, row in enumerate(sheet["rows"], 1):
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


def raw_write_formatted(path: str, data: dict) -> float:
    """THE baseline: raw xlsxwriter (constant_memory) writing the exporter's exact cells with
    its exact formats — header style, column widths, per-column number/date/text formats,
    frozen header, autofilter — the write method chosen once per column."""
    started = time.perf_counter()
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                              "text_wrap": True, "valign": "top"})
    formats = {spec: book.add_format({"num_format": spec}) for sheet in data.values()
               for spec in sheet["formats"] if spec}
    for name, sheet in data.items():
        ws = book.add_worksheet(name)
        methods = {"number": ws.write_number, "date": ws.write_datetime, "string": ws.write_string}
        columns = []
        for c, (label, width, spec, excel) in enumerate(zip(
                sheet["headers"], sheet["widths"], sheet["formats"], sheet["excel"])):
            ws.set_column(c, c, width, formats["@"] if spec == "@" else None)
            ws.write_string(0, c, label, header)
            columns.append((c, methods[excel], formats.get(spec)))
        ws.freeze_panes(1, 0)
        r = 0
        for r, row in enumerate(sheet["rows"], 1):
            for c, method, fmt in columns:
                value = row[c]
                if value is not None:
                    method(r, c, value, fmt)
        ws.autofilter(0, 0, max(r, 1), len(columns) - 1)
    book.close()
    return time.perf_counter() - started


def cells(session) -> dict:
    """Every cell of the workbook, rendered as the exporter writes it, with each column's
    header, width, format and cell type (from the sheet's declaration)."""
    from app.scope import NATIONAL
    from app.sheets import SHEETS
    from app.sheets.kinds import Code
    from exports.queries import sheet_rows

    data = {}
    for sheet in SHEETS:
        renders = [c.kind.render for c in sheet.columns]
        rows = [[None if v is None else render(v) for v, render in zip(row, renders)]
                for row in sheet_rows(session, sheet, NATIONAL)]
        kinds = [c.kind for c in sheet.columns]
        data[sheet.name] = {
            "headers": [c.label for c in sheet.columns], "rows": rows,
            "widths": [max(c.kind.width, len(c.label) + 2) for c in sheet.columns],
            "formats": [k.num_format or ("@" if isinstance(k, Code) else None) for k in kinds],
            "excel": [k.excel for k in kinds]}
    return data


def _fresh_export(url: str, tmp: str, queue) -> None:
    """In a new interpreter: the app on the built database, then one export; the process's
    peak resident memory before and after it (MB)."""
    from app.extensions import db
    from app.scope import NATIONAL
    from exports.workbook import export_workbook

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": tmp,
                      "SQLALCHEMY_ENGINE_OPTIONS": {}})
    with app.app_context():
        before = _peak_rss()
        export_workbook(db.session, str(Path(tmp) / "fresh.xlsx"), NATIONAL)
    queue.put((before, _peak_rss()))


def _peak_rss() -> float:
    """This process's peak resident memory (MB): VmHWM, as ``ru_maxrss`` would carry the
    parent's peak over the exec of a spawned child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_process_rss(tmp: Path) -> tuple[float, float]:
    """Peak RSS of an export alone (this process also built the park: its RSS says nothing)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_fresh_export, args=(f"sqlite:///{tmp / 'bench.db'}", str(tmp), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def timed(func, *args) -> tuple[float, float]:
    """(wall, CPU) seconds of one call: on a shared machine, the CPU time of this process
    (SQLite runs inside it) is the figure other processes do not blur."""
    started, cpu = time.perf_counter(), time.process_time()
    func(*args)
    return time.perf_counter() - started, time.process_time() - cpu


def measure(app, tmp: Path, scale: int, raw: bool = True, repeat: int = 3) -> None:
    """Best of ``repeat`` runs of the export and of each baseline, taken in turns (a shared
    machine's load hits both alike); the cells in memory are frozen out of the garbage
    collector so that holding them slows neither side."""
    from app.extensions import db
    from app.scope import NATIONAL
    from exports.workbook import export_workbook

    def export(path):
        counts.update(export_workbook(db.session, path, NATIONAL))
        db.session.rollback()

    counts: dict[str, int] = {}
    with app.app_context():
        export(str(tmp / "warm.xlsx"))  # compiles and caches the statements once
        data = cells(db.session) if raw else {}
        gc.collect()
        gc.freeze()
        times: dict[str, list[tuple[float, float]]] = {"export": [], "raw": [], "typed": [],
                                                      "generic": []}
        for _ in range(repeat):
            times["export"].append(timed(export, str(tmp / "export.xlsx")))
            if raw:
                times["raw"].append(timed(raw_write_formatted, str(tmp / "raw.xlsx"), data))
                times["typed"].append(timed(raw_write, str(tmp / "raw1.xlsx"), data, True))
                times["generic"].append(timed(raw_write, str(tmp / "raw2.xlsx"), data, False))
        n_cells = sum(len(s["rows"]) * len(s["headers"]) for s in data.values())
        del data
        gc.unfreeze()
        gc.collect()
        tracemalloc.start()
        export(str(tmp / "export2.xlsx"))
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    wall = {k: min(w for w, _c in v) for k, v in times.items() if v}
    cpu = {k: min(c for _w, c in v) for k, v in times.items() if v}
    rows = sum(counts.values())
    size = (tmp / "export.xlsx").stat().st_size / 1e6
    print(f"×{scale}: {rows:,} rows, {n_cells:,} cells, file {size:.1f} MB (best of {repeat}; "
          f"wall s / CPU s, ratio on CPU time)", flush=True)
    print(f"    BHasile export (query + write)           {wall['export']:6.2f} / {cpu['export']:6.2f} s"
          f"  ({rows / wall['export']:,.0f} rows/s wall)")
    if raw:
        for key, label in (("raw", "raw xlsxwriter, same cells, same formats "),
                           ("typed", "raw, typed writes, date format only      "),
                           ("generic", "raw, write(), date format only           ")):
            target = " (target ≤ 1.5×)" if key == "raw" else ""
            print(f"    {label}{wall[key]:6.2f} / {cpu[key]:6.2f} s → ratio "
                  f"{cpu['export'] / cpu[key]:.2f}× (wall {wall['export'] / wall[key]:.2f}×){target}")
    before, after = fresh_process_rss(tmp)
    print(f"    peak Python memory (tracemalloc) during the export: {peak / 1e6:.1f} MB; "
          f"peak RSS of a fresh process exporting: {after:.0f} MB (app loaded: {before:.0f} MB) "
          f"(target ≤ 250 MB at ×10)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--no-raw", action="store_true", help="skip the raw xlsxwriter comparison")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the best is kept")
    args = parser.parse_args()
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            app = scratch_app(Path(tmp), scale)
            print(f"(demo park ×{scale} built in {time.perf_counter() - started:.0f} s)")
            measure(app, Path(tmp), scale, raw=not args.no_raw, repeat=args.repeat)


if __name__ == "__main__":
    main()
