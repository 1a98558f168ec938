"""The import pipeline: file → cells → canonical rows → diff with the database → preview.

``ImportCommand.validate()`` is the preview (it writes nothing and collects every error);
``ImportCommand.run()`` applies it in one transaction (see ``imports.apply``).
"""
from __future__ import annotations

import datetime as dt
import gc
import re
from contextlib import contextmanager
from itertools import chain, islice
from operator import itemgetter
from typing import Any, Iterator, Optional

from flask import current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from app.audit import audit_context

from app.extensions import db
from app.scope import NATIONAL, Scope
from app.sheets import SCHEMA_VERSION, Lookups, Sheet
from app.sheets import fingerprint
from app.sheets.kinds import CellError, Date, Month, Year
from app.sheets.normalize import norm
from models import Operateur

from .headers import HEADER_SCAN, Mapping, SheetPlan, detect, sheet_by_name
from .reader import (NO_VALUE, Book, ExcelError, FileProblem, Limits, RawSheet, ReadAgain,
                     open_file, whole)
from .annotate import ERRORS_SHEET, is_errors_sheet
from .apply import Applier, StaleRows
from .result import CellIssue, ImportResult, labels_once, Record
from .checks import Checker
from .fingerprint import Touched, Untouched
from . import merge
from .merge import shown_key

#: cell value types whose equal values are interchangeable (``1 == True == 1.0`` are not)
_CACHED = frozenset({str, int, dt.datetime, dt.date})
#: what ``_fill_known`` reads at once: an empty cell, or a type cleaned once per value (and a
#: float with decimals, which no other cell equals: a whole float is read as an int)
_KNOWN_TYPES = frozenset({type(None), float, *_CACHED})
_EMPTY = (None, None)      #: an empty cell, as the value caches hold it
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_CACHE_SIZE = 20_000
#: days from 1899-12-30 (the 1900 date system) to 1904-01-01
_DAYS_1904 = 1462
#: a key cell reading « Total », « TOTAL 2024 », « Sous-total Calvados », « Totaux »: a total row
_TOTAL_KEY = re.compile(r"(?:sous[\s-]*)?tota(?:le?s?|ux)\b", re.IGNORECASE)
_YEAR = Year()
#: the sheets whose rows may create what other sheets refer to (``_prescan``)
_CREATORS = ("Opérateurs", "Structures")
#: rows between two reports to the ``progress`` callback (its caller decides what to record)
PROGRESS_ROWS = 1000
#: records compared at once: a sheet's records are never all held (a record weighs ~1 kB)
CHUNK_RECORDS = 20_000


def _silent(stage: str, done: int, total: int) -> None:
    """The default progress callback: nobody follows a synchronous import."""


class ImportCommand:
    """The import of one file by one user: ``validate()`` previews, ``run()`` applies."""

    def __init__(self, data: bytes, filename: str, scope: Scope = NATIONAL,
                 year: Optional[int] = None, session: Any = None, progress: Any = None,
                 choices: Optional[dict] = None):
        self.data, self.filename, self.scope, self.year = data, filename, scope, year
        self.choices = choices or {}   #: conflict → side chosen (``imports.merge``)
        self.meta: dict = {}           #: the ``_bhasile`` sheet of an export
        self.ignore: set[str] = set()
        self.has_base = False
        #: the rows left as exported, when the file is an export (``imports.fingerprint``)
        self.untouched: Optional[Untouched] = None
        #: the sheet being read's rows left as exported: (its sheet, its name in the file, key
        #: cells by field), for ``Checker.compare`` (``None``: every row read in full)
        self.exported: Optional[tuple] = None
        self.session = session or db.session
        #: ``progress(stage, done, total)``: read (the file), parse, check, write (rows)
        self.progress = progress or _silent
        self.rows_total = 0
        self.measure_first = False     #: (``validate``, ``reader.open_file``)
        self.result = ImportResult()
        self.lookups: Optional[Lookups] = None
        self.checker: Optional[Checker] = None
        #: list of mappings → (it, ``_fill``'s specs holding each column's cleaned values)
        self.cleaned: dict[int, tuple[list, list[tuple]]] = {}
        self.date1904 = False          #: the sheet being read counts its dates from 1904
        self._years: dict[Any, Optional[int]] = {}   #: a year cell → its year (``_row_year``)
        self._totals: dict[str, bool] = {}           #: a key cell → reads « Total » (``_total_key``)

    # --- preview ---------------------------------------------------------------------------
    def validate(self) -> ImportResult:
        """Read, match, parse and compare every row; nothing is written. A large sheet is read
        as it is inflated, without measuring it first; when it turns out not plain (or its
        header needs its merged ranges), the preview starts over, each sheet measured first."""
        with _gc_paused(), labels_once():
            try:
                return self._validate()
            except ReadAgain:
                self.__init__(self.data, self.filename, self.scope, self.year, self.session,
                              self.progress, self.choices)
                self.measure_first = True
                return self._validate()

    def _validate(self) -> ImportResult:
        try:
            self.progress("read", 0, 0)
            book = self._open()
        except FileProblem as exc:
            self.result.problem = str(exc)
            return self.result
        try:
            return self._compare(book)
        except FileProblem as exc:   # a limit met in a later sheet: nothing of the earlier ones
            self.result = ImportResult(problem=str(exc))
            return self.result
        finally:
            book.close()

    def _compare(self, book: Book) -> ImportResult:
        """The sheets the pre-pass needs first (``_first_pass``), then sheet by sheet in the
        file's order: read, turned into records, compared, and dropped before the next is read
        (only the records to write stay, in ``result.records``)."""
        result = self.result
        early = self._first_pass(book)
        self.lookups = Lookups(self.session)
        self._prescan([plan for plan in early.values() if plan is not None])
        self.checker = Checker(self.session, self.scope, self.lookups)
        merge.attach(self)
        if self.has_base:
            self.untouched = Untouched(self.meta, self.checker.merge.base)
        found = plans = 0
        for name in book.names:
            if name.startswith("_"):
                if name.startswith("_base"):
                    book.sheet(name)   # read against the file's limits like any sheet, unused
                continue
            if name in early:
                plan = early.pop(name)
            else:   # its rows read from the file as they are turned into records
                raw = book.sheet(name, head=HEADER_SCAN + 1)
                plan = self._plan(raw)
                if raw.unmeasured and (plan is None or plan.header_pos > 0):
                    raise ReadAgain()   # its header may need the merged ranges a measure gives
            if plan is None:
                continue
            plans += 1
            result.warnings.extend(plan.warnings)
            found += self._compare_sheet(plan)
            self.checker.existing.clear()   # the sheet's stored rows: asked again if needed
        if not plans:
            result.problem = ("Aucune feuille reconnue dans ce fichier : les en-têtes attendus "
                              "(Code DNA, Année, Places autorisées...) sont introuvables dans les "
                              "20 premières lignes.")
            return result
        if not found and not result.errors:
            result.problem = "Le fichier ne contient aucune ligne de données (en-têtes seuls)."
            return result
        merge.after(self, result.records)
        return result

    # --- apply -----------------------------------------------------------------------------
    def run(self, batch_id: Optional[int] = None, username: Optional[str] = None,
            origin: str = "import", user_id: Optional[int] = None) -> ImportResult:
        """Apply the file in one transaction; refused while errors remain. A row changed since
        the preview (its stored version) raises ``StaleRows`` and nothing is written (a
        previewed batch is applied from its stored detail: ``imports.batches.apply_batch``)."""
        result = self.result if self.checker else self.validate()
        if result.problem or result.errors or result.open_conflicts:
            return result
        merge.resolve(result, self.checker)
        if result.errors:
            return result
        write(self.session, self.lookups, result.records, self.progress, origin=origin,
              batch_id=batch_id, username=username, user_id=user_id)
        result.applied = True
        return result

    def _compare_sheet(self, plan: SheetPlan) -> int:
        """A sheet's records compared ``CHUNK_RECORDS`` at a time, each chunk dropped once
        compared (only the records to write stay, in ``result.records``); how many records."""
        total = _data_rows(plan)
        records = self._records(plan)
        done = 0

        def progress(stage: str, checked: int, _total: int) -> None:
            self.progress(stage, min(done + checked, total), total)

        while True:
            chunk = list(islice(records, CHUNK_RECORDS))
            if not chunk:
                break
            self.checker.compare(chunk, self.result, progress, self.exported)
            done += len(chunk)
            del chunk
        del plan.raw.rows[plan.header_pos + 1:]
        self.cleaned.clear()   # the sheet's cleaned values: another sheet has its own columns
        return done

    def _open(self) -> Book:
        config = current_app.config
        if self.scope.read_only:
            raise FileProblem("Votre rôle ne permet pas d'importer des données.")
        return open_file(self.data, self.filename, config["BHASILE_IMPORT_MAX_ROWS"],
                         config["BHASILE_IMPORT_MAX_UNZIPPED_MB"],
                         Limits(cells=config.get("BHASILE_IMPORT_MAX_CELLS", Limits.cells),
                                text_mb=config.get("BHASILE_IMPORT_MAX_TEXT_MB", Limits.text_mb)),
                         measure_first=self.measure_first)

    def _first_pass(self, book: Book) -> dict[str, Optional[SheetPlan]]:
        """What the pre-pass needs before any row is compared, read first: the metadata sheets
        (``_bhasile``: the list columns to pass over), then every sheet that may create
        opérateurs or structures — named so, or named after no canonical sheet (recognised by
        its headers). A sheet named after another canonical sheet is only ever read as that
        sheet (``headers.detect``): it is read in its turn. Returns the plans of the sheets
        read (``None``: no canonical sheet found in it)."""
        ignore: set[str] = set()
        for name in book.names:
            if name.startswith("_") and not name.startswith("_base"):
                ignore |= self._metadata(book.sheet(name))
        self.ignore = ignore
        early: dict[str, Optional[SheetPlan]] = {}
        for name in book.names:
            named = sheet_by_name(name)
            if not name.startswith("_") and (named is None or named.name in _CREATORS):
                early[name] = self._plan(book.sheet(name))
        return early

    def _plan(self, raw: RawSheet) -> Optional[SheetPlan]:
        """The sheet's reading plan (its rows counted for the progress), or ``None`` with a
        warning when it holds no canonical sheet."""
        if is_errors_sheet(raw):
            self.result.warnings.append(
                f"Feuille « {raw.name} » ignorée : c'est la liste des erreurs d'un aperçu "
                "précédent (fichier annoté par BHasile).")
            return None
        plan = detect(raw, self.ignore)
        if plan is None:
            if raw.rows and raw.name not in ("Instructions", ERRORS_SHEET):
                self.result.warnings.append(
                    f"Feuille « {raw.name} » ignorée : aucune feuille du classeur BHasile "
                    "reconnue (ni par son nom, ni par ses en-têtes).")
            return None
        self.rows_total += _data_rows(plan)
        return plan

    def _metadata(self, raw: RawSheet) -> set[str]:
        """Warns of another schema version; returns the headers of the list columns an export
        wrote after the sheet's own (computed, never imported) and of its fingerprints."""
        meta = {str(r[0]): r[1] for _n, r in raw.rows if len(r) > 1}
        self.meta.update(meta)
        version = meta.get("schema_version") or meta.get("Version du schéma")
        if version is not None and str(version) != SCHEMA_VERSION:
            self.result.warnings.append(
                f"Ce fichier a été exporté avec la version {version} du classeur "
                f"(version actuelle : {SCHEMA_VERSION}) : vérifiez les colonnes.")
        listed = meta.get("list_columns")
        passed = {part.strip() for part in listed.split("|")} if isinstance(listed, str) else set()
        mark = meta.get(fingerprint.META_KEY)
        return passed | {mark.strip()} if isinstance(mark, str) else passed

    def _prescan(self, plans: list[SheetPlan]) -> None:
        """Opérateurs and structures the file creates, so other rows may refer to them."""
        for plan in plans:
            kind = plan.primary.name
            if kind not in _CREATORS:
                continue
            key = next((m for m in plan.mappings if m.column.field == plan.primary.key[0]
                        and m.sheet is plan.primary), None)
            if key is None:
                continue
            for _number, cells in plan.raw.rows[plan.header_pos + 1:]:
                raw = whole(cells[key.index]) if key.index < len(cells) else None
                if not isinstance(raw, (str, int, float)) or not str(raw).strip():
                    continue
                text = " ".join(str(raw).split())
                if _TOTAL_KEY.match(text):   # a total row, skipped: it creates nothing
                    continue
                if kind == "Opérateurs" and norm(text) not in self.lookups.operateurs:
                    self.lookups.new_operateurs[norm(text)] = text
                elif kind == "Structures":
                    code = text.upper()
                    if code not in self.lookups.structures:
                        self.lookups.new_structures.add(code)

    # --- rows --------------------------------------------------------------------------------
    def _records(self, plan: SheetPlan) -> Iterator[Record]:
        primary = plan.primary
        own = [m for m in plan.mappings if m.sheet is primary]
        others: dict[tuple, list[Mapping]] = {}
        for m in plan.mappings:
            if m.sheet is not primary:
                others.setdefault((m.sheet.name, m.year), []).append(m)
        self._check_years(plan, others)
        self.date1904 = plan.raw.date1904
        as_exported = self.untouched.matcher(plan) if self.untouched and not others else None
        self.exported = None
        if as_exported is not None:
            maps = [m for m in own if m.column.field in primary.key]
            specs, cols, _fast = self._specs(primary, maps)
            keys = (maps, [spec[:3] + spec[4:] for spec in specs], cols)
            touched = self.untouched.touched_keys(primary)
            self.exported = (primary, plan.raw.name, cols)
        for number, cells in chain(plan.raw.rows[plan.header_pos + 1:], plan.raw.rest):
            self.result.rows_read += 1
            if not self.result.rows_read % PROGRESS_ROWS:
                self.progress("parse", self.result.rows_read, self.rows_total)
            if as_exported is not None and as_exported(cells):
                key = self._as_exported(primary, keys, cells, touched)
                if key is not None:
                    yield (key, number)   # no record: ``Checker.compare`` makes one if needed
                    continue
            rec = Record(primary, (), number, plan.raw.name)
            if not self._fill(rec, own, cells):
                continue
            if not self._key(rec, plan, cells):
                continue
            yield rec
            row_year = self._row_year(plan, cells)
            for (_name, year), maps in others.items():
                derived = self._derived(rec, maps, year or row_year or self.year, cells)
                if derived is not None:
                    yield derived

    def _as_exported(self, sheet: Sheet, keys: tuple, cells: list,
                     touched: Optional[Touched]) -> Optional[tuple]:
        """The key of a row left as exported (``imports.fingerprint``): only its key cells read,
        the row to count as unchanged. ``None``: the row is to read in full (a key in error, a
        total row, a row the history since the export concerns). ``keys``: the key's mappings,
        per key cell (index, field, clean, [cleaned values]), and the key's cell index by field."""
        _maps, specs, cols = keys
        values, lookups = {}, self.lookups
        try:
            for index, field, clean, memo in specs:   # the key cells, cleaned once per value
                raw = cells[index]
                cache = memo[0]
                hit = cache.get(raw) if cache is not None else None
                if hit is None:
                    if raw.__class__ is float:
                        raw = whole(raw)
                    if raw.__class__ not in _CACHED or (raw.__class__ is str and raw.isspace()):
                        return None        # empty, an Excel error...: read in full
                    try:
                        hit = (clean(raw, lookups), None)
                    except CellError:
                        return None
                    if cache is not None:
                        cache[raw] = hit
                        if len(cache) > _CACHE_SIZE:   # as ``_fill``: all different values
                            memo[0] = None
                if hit[1] is not None:
                    return None
                values[field] = hit[0]
        except IndexError:                     # a fingerprint column before a key cell
            return None
        key = tuple(map(values.get, sheet.key))
        if None in key:
            return None
        first = cells[cols[sheet.key[0]]]   # a key cell known not to read « Total »: no call
        if first.__class__ is str and self._totals.get(first) is not False \
                and _total_key(sheet, cols, cells, self._totals, self.lookups):
            return None
        if touched is not None and shown_key(sheet, key) in touched:
            return None
        return key

    def _fill(self, rec: Record, maps: list[Mapping], cells: list) -> bool:
        """Parse the cells of ``maps`` into ``rec``; False for a blank row.

        A kind's ``clean`` depends only on the cell and the lookups (fixed once the file is
        pre-scanned), so each distinct text, integer, date or number with decimals of a column
        is cleaned once.
        """
        specs, cols, fast = self._specs(rec.sheet, maps)
        rec.cols.update(cols)
        if fast is not None and _fill_known(rec.values, fast, cells):
            return True
        blank = True
        lookups = self.lookups
        n = len(cells)
        values = rec.values
        for index, field, clean, skip, memo in specs:
            raw = cells[index] if index < n else None
            cls = raw.__class__
            if raw is None or (cls is str and (not raw or raw.isspace())):
                values[field] = None
                continue
            blank = False
            if skip:
                continue
            if cls is float:   # a whole number is cleaned as the int it equals (and cached so:
                raw = whole(raw)   # ``_fill_known`` finds 2024.0 under 2024)
                cls = raw.__class__
            # a float with decimals equals no other cell
            cached = cls in _CACHED or (cls is float and not raw.is_integer())
            cache = memo[0] if cached else None
            if cache is not None:
                hit = cache.get(raw)
                if hit is None:
                    try:
                        hit = (clean(raw, lookups), None)
                    except CellError as exc:
                        hit = (None, str(exc))
                    cache[raw] = hit
                    if len(cache) > _CACHE_SIZE:   # values all different: no use keeping them
                        memo[0] = None
                if hit[1] is None:
                    values[field] = hit[0]
                else:
                    rec.error(field, hit[1], raw)
            elif raw is NO_VALUE:
                rec.error(field, "formule sans valeur calculée", "=")
            elif isinstance(raw, ExcelError):
                rec.error(field, f"erreur de calcul Excel ({raw})", str(raw))
            else:
                try:
                    values[field] = clean(raw, lookups)
                except CellError as exc:
                    rec.error(field, str(exc), raw)
        return not blank or bool(rec.errors)

    def _specs(self, sheet: Sheet, maps: list[Mapping]) -> tuple[list[tuple], dict[str, int],
                                                                 Optional[tuple]]:
        """What ``_fill`` needs of each mapping, looked up once per sheet of the file:
        (cell index, field, clean, read-only, [cleaned values or ``None``]), the cell index
        of each field, and ``_fill_known``'s (cells
        getter, fields, caches) when every column is written."""
        found = self.cleaned.get(id(maps))
        if found is None:   # ``maps`` kept with its specs: its id stays its own
            specs = [(m.index, m.column.field, _clean(m.column.kind, self.date1904),
                      m.column.read_only and m.column.field not in sheet.key, [{None: _EMPTY}])
                     for m in maps]
            fast = None
            if len(specs) > 1 and not any(spec[3] for spec in specs):
                fast = (itemgetter(*(spec[0] for spec in specs)), [spec[1] for spec in specs],
                        [spec[4] for spec in specs])
            found = self.cleaned[id(maps)] = (maps, specs, {m.column.field: m.index for m in maps},
                                              fast)
        return found[1], found[2], found[3]

    def _key(self, rec: Record, plan: SheetPlan, cells: list) -> bool:
        sheet = rec.sheet
        if sheet.year_field and sheet.year_field not in rec.cols and self.year:
            rec.values[sheet.year_field] = self.year
        if sheet.parent is not None and rec.values.get("id") is None and "id" in rec.cols \
                and not (rec.values.get("code_dna") is None and _is_total(cells)):
            rec.key = ("nouvelle", rec.row)
            return True
        keys = [rec.values.get(f) for f in sheet.key]
        missing = [f for f, v in zip(sheet.key, keys) if v is None] if None in keys else []
        if missing and rec.errors:
            errored = {e.column for e in rec.errors}
            missing = [f for f in missing if sheet.by_field[f].label not in errored]
        if (missing and sheet.key[0] in missing and _is_total(cells)) \
                or _total_key(sheet, rec.cols, cells, self._totals, self.lookups):
            self.result.counts[sheet.name]["skipped"] += 1
            self.result.warnings.append(f"Feuille « {plan.raw.name} », ligne {rec.row} : ligne de "
                                        "total ignorée.")
            return False
        for f in missing:
            if f not in rec.cols and f == sheet.year_field:
                rec.error(f, "colonne Année absente : ajoutez-la ou indiquez l'année de l'import")
            else:
                rec.error(f, f"{sheet.by_field[f].label} manquant(e)")
        rec.key = tuple(keys)
        return True

    def _row_year(self, plan: SheetPlan, cells: list) -> Optional[int]:
        if plan.year_index is None or plan.year_index >= len(cells):
            return None
        raw = whole(cells[plan.year_index])
        memo = raw.__class__ in _CACHED
        if memo and raw in self._years:
            return self._years[raw]
        try:
            year = _YEAR.clean(raw) if raw not in (None, "") else None
        except CellError:
            year = None
        if memo and len(self._years) < _CACHE_SIZE:
            self._years[raw] = year
        return year

    def _check_years(self, plan: SheetPlan, others: dict) -> None:
        for (name, year), maps in others.items():
            if year is None and plan.year_index is None and not self.year:
                sheet_row = plan.raw.rows[plan.header_pos][0]
                for m in maps:
                    self.result.errors.append(_year_issue(plan, m, sheet_row))

    def _derived(self, rec: Record, maps: list[Mapping], year: Optional[int],
                 cells: list) -> Optional[Record]:
        sheet = maps[0].sheet
        code = rec.values.get("code_dna")
        if code is None or year is None:
            return None
        derived = Record(sheet, (code, year), rec.row, rec.source, derived=True)
        derived.values = {"code_dna": code, sheet.year_field: year}
        derived.cols = {"code_dna": rec.cols.get("code_dna")}
        self._fill(derived, maps, cells)
        return derived


def write(session: Any, lookups: Lookups, records: list[Record], progress: Any = None,
          origin: str = "import", batch_id: Optional[int] = None, username: Optional[str] = None,
          user_id: Optional[int] = None) -> None:
    """Write a preview's records in one transaction, committed, or nothing (``StaleRows``
    names the rows changed since the preview; any other failure is raised as is)."""
    with audit_context(origin, batch_id=batch_id, username=username, user_id=user_id):
        try:
            Applier(session, lookups, progress).apply(records)
            session.commit()
        except StaleRows:
            session.rollback()
            raise
        except (DBAPIError, StaleDataError) as exc:
            session.rollback()
            raise StaleRows([f"écriture refusée par la base ({type(exc).__name__})"]) from exc
        except BaseException:
            session.rollback()
            raise


def _data_rows(plan: SheetPlan) -> int:
    """The rows below a sheet's header: counted when read, else up to its last row."""
    raw = plan.raw
    if raw.rest == ():
        return max(len(raw.rows) - plan.header_pos - 1, 0)
    return max(raw.last_row - raw.rows[plan.header_pos][0], 0)


def _fill_known(values: dict[str, Any], fast: tuple, cells: list) -> bool:
    """``_fill`` for the usual row, in a few calls that each walk the row in C: every cell
    empty or of a type cleaned once per value, already cleaned without error, not all empty.
    False when the row is not that usual (``_fill`` then reads it cell by cell)."""
    take, fields, memos = fast
    try:
        raws = take(cells)
    except IndexError:                          # a short row (CSV)
        return False
    if not _KNOWN_TYPES.issuperset(map(type, raws)) or raws.count(None) == len(raws):
        return False
    caches = list(map(_FIRST, memos))
    if None in caches:                          # a column of all different values
        return False
    hits = list(map(dict.get, caches, raws))
    if None in hits or list(map(_SECOND, hits)).count(None) != len(hits):
        return False                            # a value not cleaned yet, or in error
    values.update(zip(fields, map(_FIRST, hits)))
    return True


@contextmanager
def _gc_paused():
    """The cyclic garbage collector paused while a preview builds its rows: millions of small
    objects without cycles, each of the collector's full passes walking them all again (a
    quarter of the preview's time at ×1, more as the file grows)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _is_total(cells: list) -> bool:
    return any(isinstance(v, str) and ("total" in v.lower() or "totaux" in v.lower()) for v in cells)


def _total_key(sheet: Sheet, cols: dict[str, int], cells: list, memo: dict[str, bool],
               lookups: Lookups) -> bool:
    """A row whose key cell says « Total » (or « Sous-total ... »): codes never read so; an
    opérateur's name is its key, so there only when no stored opérateur bears that name.
    ``cols``: the row's cell index by field; ``memo``: the key cells already read (a code
    comes back once per year)."""
    field = sheet.key[0]
    if field not in cols:
        return False
    index = cols[field]
    raw = cells[index] if index < len(cells) else None
    if not isinstance(raw, str):
        return False
    found = memo.get(raw)
    if found is None:
        found = bool(_TOTAL_KEY.match(raw.strip()))
        if len(memo) < _CACHE_SIZE:
            memo[raw] = found
    return found and (sheet.model is not Operateur or norm(raw) not in lookups.operateurs)


def _clean(kind, date1904: bool):
    """``kind.clean``; for a date or month column of a workbook counting from 1904, a date typed
    as a plain number is that many days after 1 January 1904 (calamine already converts the
    cells formatted as dates)."""
    clean = kind.clean
    if not date1904 or not isinstance(kind, (Date, Month)):
        return clean

    def clean_1904(raw, ctx=None):
        if raw.__class__ in (int, float):
            raw = raw + _DAYS_1904
        return clean(raw, ctx)

    return clean_1904


def _year_issue(plan: SheetPlan, m: Mapping, row: int):
    return CellIssue(m.sheet.name, row, m.column.label, m.header,
                     f"colonne « {m.header} » refusée : l'année n'est ni dans l'en-tête ni dans "
                     "une colonne Année ; indiquez l'année de l'import", plan.raw.name, m.index + 1)


def preview(data: bytes, filename: str, scope: Scope = NATIONAL, year: Optional[int] = None) -> ImportResult:
    """The dry run of an import (nothing written)."""
    return ImportCommand(data, filename, scope, year).validate()
