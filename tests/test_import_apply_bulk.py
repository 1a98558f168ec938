"""The import's bulk apply: the same rows and the same change history as the per-row ORM path
it replaced, all or nothing (stale rows, database errors), and the history written once."""
from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app.scope import NATIONAL
from tests import dbutil
from tests.conftest import SAMPLES, make_app

TABLES = ("operateur", "structure", "places_annee", "budget_annee", "activite_mensuelle", "adresse",
          "adresse_annee", "convention", "convention_structure")
BATCH = 4242


# --- the per-row path the bulk apply replaced (the reference) ----------------------------------
class OrmApplier:
    """The former ``imports.apply.Applier``: every row through the ORM, audited by the hook."""

    def __init__(self, session, lookups):
        from imports.apply import Applier

        self.session, self.lookups, self.stale = session, lookups, []
        self.one = Applier(session, lookups)        # its per-object ``_set`` (kept for the grid)

    def apply(self, records) -> None:
        from app.sheets import APPLY_ORDER

        for sheet in APPLY_ORDER:
            todo = [r for r in records if r.sheet is sheet and r.status in ("new", "updated")]
            if todo:
                (self._adresses if sheet.name == "Adresses" else self._plain)(sheet, todo)
                self.session.flush()
                self._remember(sheet, todo)
        assert not self.stale

    def _load(self, model, ids):
        return {o.id: o for o in self.session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}

    def _target(self, model, rec, objs, pos=0):
        if rec.ids is None or rec.ids[pos] is None:
            obj = model()
            self.session.add(obj)
            return obj
        obj = objs.get(rec.ids[pos])
        if obj is None or obj.version != rec.ids[pos + 1]:
            self.stale.append(rec)
            return None
        return obj

    @staticmethod
    def _values(rec):
        return rec.values if rec.status == "new" else {f: n for f, (_o, n) in rec.changed.items()}

    def _plain(self, sheet, todo):
        objs = self._load(sheet.model, [r.ids[0] for r in todo if r.ids])
        for rec in todo:
            obj = self._target(sheet.model, rec, objs)
            for field, value in self._values(rec).items():
                self.one._set(obj, sheet, field, value)

    def _adresses(self, sheet, todo):
        from models import Adresse, AdresseAnnee

        parents = self._load(Adresse, [r.ids[2] for r in todo if r.ids and r.ids[2]])
        years = self._load(AdresseAnnee, [r.ids[0] for r in todo if r.ids and r.ids[0]])
        for rec in todo:
            values = self._values(rec)
            parent = self._target(Adresse, rec, parents, 2) if rec.ids else Adresse()
            if rec.ids is None:
                self.session.add(parent)
            for field, value in values.items():
                if sheet.by_field[field].target == "parent":
                    self.one._set(parent, sheet, field, value)
            if rec.values.get("annee") is None:
                continue
            year = self._target(AdresseAnnee, rec, years, 0) if rec.ids and rec.ids[0] else None
            if year is None:
                year = AdresseAnnee(adresse=parent)
                self.session.add(year)
            for field, value in values.items():
                if sheet.by_field[field].target == "row":
                    self.one._set(year, sheet, field, value)

    def _remember(self, sheet, todo):
        from app.sheets.normalize import norm
        from models import Structure

        if sheet.name == "Opérateurs":
            for rec in todo:
                name = rec.values.get("nom") or rec.key[0]
                if norm(name) not in self.lookups.operateurs:
                    obj_id = self.session.scalar(select(sheet.model.id).where(sheet.model.nom == name))
                    self.lookups.operateurs[norm(name)] = (obj_id, name)
        elif sheet.name == "Structures":
            new = [r.key[0] for r in todo if r.status == "new"]
            for sid, code, dep, op in self.session.execute(
                    select(Structure.id, Structure.code_dna, Structure.departement_id,
                           Structure.operateur_id).where(Structure.code_dna.in_(new))):
                self.lookups.structures[code] = (sid, dep, op)


# --- helpers -------------------------------------------------------------------------------------
@pytest.fixture()
def two_apps(template_db, tmp_path):
    """Two apps on two identical copies of the demo park."""
    url, tmp = template_db
    apps = [make_app(dbutil.clone(url, tmp), tmp_path / name) for name in ("orm", "bulk")]
    yield apps
    for application in apps:
        with application.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()


def _apply(data: bytes, bulk: bool, name: str = "classeur.xlsx"):
    """Preview then apply ``data`` (national scope) as import batch ``BATCH``."""
    from app.audit import audit_context
    from app.extensions import db
    from imports.apply import Applier
    from imports.pipeline import ImportCommand

    command = ImportCommand(data, name, NATIONAL)
    result = command.validate()
    assert not result.problem and not result.errors, [e.as_dict() for e in result.errors]
    with audit_context("import", batch_id=BATCH, username="normandie", user_id=3):
        (Applier if bulk else OrmApplier)(db.session, command.lookups).apply(result.records)
    db.session.commit()
    return result


def _snapshot() -> tuple[dict, list]:
    """Every domain row (without its ``updated_at``) and every history row (without id, time)."""
    from app.extensions import db

    conn = db.session.connection()
    meta = sa.MetaData()
    tables = {}
    for name in TABLES:
        table = sa.Table(name, meta, autoload_with=conn)
        columns = [c for c in table.columns if c.name != "updated_at"]
        tables[name] = conn.execute(select(*columns).order_by(table.c.id)).all()
    changement = sa.Table("changement", meta, autoload_with=conn)
    columns = [c for c in changement.columns if c.name not in ("id", "at")]
    history = [dict(r._mapping) for r in conn.execute(select(*columns).where(changement.c.batch_id == BATCH))]
    db.session.rollback()
    return tables, history


def _fingerprint() -> tuple[dict, int]:
    from app.extensions import db
    from models import Changement

    tables, _history = _snapshot()
    count = db.session.scalar(select(sa.func.count(Changement.id)))
    db.session.rollback()
    return tables, count


def _edited_calvados() -> bytes:
    """The Calvados workbook (every sheet) with changes on every sheet, new rows included."""
    from app.extensions import db
    from exports.workbook import export_workbook

    out = io.BytesIO()
    export_workbook(db.session, out, NATIONAL, departements=["14"])
    db.session.rollback()
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))

    def header(ws, label):
        return [c.value for c in ws[1]].index(label) + 1

    ws = book["Structures"]
    ws.cell(2, header(ws, "Nom"), ws.cell(2, header(ws, "Nom")).value + " (revu)")
    ws.cell(3, header(ws, "Notes"), None)
    ws.cell(3, header(ws, "Opérateur"), ws.cell(2, header(ws, "Opérateur")).value)
    ws.cell(3, header(ws, "LGBT"), "Non" if ws.cell(3, header(ws, "LGBT")).value == "Oui" else "Oui")
    for name, label, step in (("Places", "Places autorisées", 1), ("Budgets", "Dotation accordée", 1.5),
                              ("Activité", "Travaux", 1)):
        ws = book[name]
        col = header(ws, label)
        for row in range(2, ws.max_row + 1):
            ws.cell(row, col, (ws.cell(row, col).value or 0) + step)
    ws = book["Budgets"]
    ws.cell(2, header(ws, "Commentaire"), "Revu en commission")
    ws = book["Activité"]
    first = [c.value for c in ws[2]]
    ws.append([first[0], "01/2001", *first[2:]])                   # a new month
    ws = book["Adresses"]
    known = [c.value for c in ws[2]]
    ws.cell(2, header(ws, "Commune"), "Bayeux")                      # the address (parent)
    ws.cell(2, header(ws, "Places autorisées"), (known[7] or 0) + 2)  # and its year
    ws.append([known[0], *known[1:6], 2001, 4, "Oui", "Non"])          # a new year of it
    ws.append([None, known[1], "5 place Neuve", "14400", "Bayeux", "Collectif", 2025, 9, "Non", "Oui"])
    ws = book["Opérateurs"]
    ws.cell(2, header(ws, "Direction générale"), "12 rue de la Direction, Caen")
    national = io.BytesIO()
    export_workbook(db.session, national, NATIONAL, sheets=["Conventions"])
    db.session.rollback()
    first = [c.value for c in openpyxl.load_workbook(national)["Conventions"][2]]
    ws = book["Conventions"]
    ws.append(first)                                                  # a convention of elsewhere
    codes = [c.value for c in book["Structures"]["A"][1:]]
    col = header(ws, "Codes DNA")
    before = [c.strip() for c in (ws.cell(2, col).value or "").split(",") if c.strip()]
    ws.cell(2, col, ", ".join(before[1:] + [c for c in codes if c not in before][:2]))
    ws.cell(2, header(ws, "Montant"), (ws.cell(2, header(ws, "Montant")).value or 0) + 10)
    ws.append(["CONV-BULK-1", ws.cell(2, header(ws, "Type")).value, ws.cell(2, header(ws, "Opérateur")).value,
               None, "01/01/2025", "31/12/2027", 1000, ", ".join(codes[:2])])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


# --- tests ---------------------------------------------------------------------------------------
def test_bulk_apply_writes_the_same_rows_and_history_as_the_orm_path(two_apps):
    sample = (SAMPLES / "classeur-exemple.xlsx").read_bytes()
    with two_apps[0].app_context():
        edited = _edited_calvados()
    outcome = []
    for application, bulk in zip(two_apps, (False, True)):
        with application.app_context():
            _apply(sample, bulk)
            result = _apply(edited, bulk, "calvados.xlsx")
            outcome.append(_snapshot())
    counts = result.as_dict()["sheets"]
    assert all(counts[name]["updated"] > 0 for name in counts), counts
    assert all(counts[name]["new"] > 0 for name in ("Activité", "Adresses", "Conventions")), counts
    (orm_tables, orm_history), (bulk_tables, bulk_history) = outcome
    for name in TABLES:
        assert bulk_tables[name] == orm_tables[name], name
    # two differences, on purpose, where the ORM hook missed a change: a changed address year
    # now names its structure (so it shows on the structure's fiche), and a structure taken
    # out of a convention is recorded (the hook never saw orphans deleted during the flush)
    fixed = [r for r in bulk_history if (r["entity"], r["action"]) == ("adresse_annee", "update")]
    assert fixed and all(r["structure_id"] is not None for r in fixed)
    for row in fixed:
        row["structure_id"] = None
    unlinked = [r for r in bulk_history if r["action"] == "delete"]
    assert {(r["entity"], r["field"]) for r in unlinked} >= {("convention_structure", "structure_id")}
    bulk_history = [r for r in bulk_history if r["action"] != "delete"]
    assert sorted(map(repr, bulk_history)) == sorted(map(repr, orm_history))
    assert {(r["origin"], r["batch_id"], r["username"], r["user_id"]) for r in bulk_history} == \
        {("import", BATCH, "normandie", 3)}


def _workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _calvados_changes() -> tuple[bytes, int]:
    """Places and Activité of the Calvados, every row changed (2 fields per Places row, 1 per
    Activité row); the number of field changes."""
    from app.extensions import db
    from models import ActiviteMensuelle, PlacesAnnee, Structure

    places = db.session.execute(select(Structure.code_dna, PlacesAnnee.annee, PlacesAnnee.places_autorisees,
                                       PlacesAnnee.pmr).join(Structure)
                                .where(Structure.code_dna.like("C14%"))).all()
    months = db.session.execute(select(Structure.code_dna, ActiviteMensuelle.mois, ActiviteMensuelle.travaux)
                                .join(Structure).where(Structure.code_dna.like("C14%"))
                                .order_by(Structure.code_dna, ActiviteMensuelle.mois)).all()
    db.session.rollback()
    data = _workbook({
        "Places": [["Code DNA", "Année", "Places autorisées", "PMR"],
                   *[[c, a, (p or 0) + 5, (m or 0) + 1] for c, a, p, m in places]],
        "Activité": [["Code DNA", "Mois", "Travaux"],
                     *[[c, mois.strftime("%m/%Y"), (t or 0) + 1] for c, mois, t in months]],
    })
    return data, 2 * len(places) + len(months)


def _preview(data: bytes):
    from imports.pipeline import ImportCommand

    command = ImportCommand(data, "calvados.xlsx", NATIONAL)
    result = command.validate()
    assert not result.errors, [e.as_dict() for e in result.errors[:3]]
    return command, result


def test_history_is_written_once_tagged_with_the_batch(fresh_app):
    from app.extensions import db
    from app.jobs import pending_request
    from models import Changement

    with fresh_app.app_context():
        data, fields = _calvados_changes()
        command, result = _preview(data)
        assert pending_request() is None
        command.run(batch_id=BATCH, username="normandie")
        rows = db.session.scalars(select(Changement).where(Changement.batch_id == BATCH)).all()
        assert len(rows) == fields                         # not once more by the session hook
        assert {(r.action, r.origin, r.username) for r in rows} == {("update", "import", "normandie")}
        assert len({r.at for r in rows}) == 1
        assert all(r.structure_id is not None and r.key for r in rows)
        assert pending_request() is not None               # the aggregates will be rebuilt
        again = _preview(data)[1]
        assert again.changes == []


def test_stale_row_refuses_the_whole_batch(fresh_app):
    from app.extensions import db
    from imports.apply import StaleRows
    from models import ActiviteMensuelle, Structure

    with fresh_app.app_context():
        data, _fields = _calvados_changes()
        command, result = _preview(data)
        last = [r for r in result.changes if r.sheet.name == "Activité"][-1]
        other = db.session.get(ActiviteMensuelle, last.ids[0])   # someone else, after the preview
        other.places_occupees = (other.places_occupees or 0) + 1
        db.session.commit()
        before = _fingerprint()
        with pytest.raises(StaleRows) as refused:
            command.run(batch_id=BATCH, username="normandie")
        assert "modifiées depuis l'aperçu" in str(refused.value)
        assert refused.value.rows == [f"Activité ligne {last.row} ({last.key[0]} / {last.key[1]})"]
        assert _fingerprint() == before                      # the Places rows neither
        code = db.session.scalar(select(Structure.code_dna).where(Structure.id == other.structure_id))
        assert code == last.key[0]


def test_database_error_in_the_middle_writes_nothing(fresh_app):
    from imports.apply import StaleRows

    with fresh_app.app_context():
        data, _fields = _calvados_changes()
        command, result = _preview(data)
        before = _fingerprint()
        # a value the rules would have refused, slipped in after the preview: the database's
        # CHECK refuses it while the Places rows are already updated in the transaction
        last = [r for r in result.changes if r.sheet.name == "Activité"][-1]
        last.changed["travaux"] = (last.changed["travaux"][0], -1)
        with pytest.raises(StaleRows) as refused:
            command.run(batch_id=BATCH, username="normandie")
        assert "écriture refusée par la base (IntegrityError)" in str(refused.value)
        assert _fingerprint() == before


def test_error_while_writing_the_history_writes_nothing(fresh_app, monkeypatch):
    from app.audit import HistoryBatch

    original = HistoryBatch.write

    def broken(self):
        original(self)
        raise RuntimeError("disque plein")

    monkeypatch.setattr(HistoryBatch, "write", broken)
    with fresh_app.app_context():
        data, _fields = _calvados_changes()
        command, _result = _preview(data)
        before = _fingerprint()
        with pytest.raises(RuntimeError):
            command.run(batch_id=BATCH, username="normandie")
        assert _fingerprint() == before


def test_an_import_change_shows_on_the_fiche_history(fresh_app, tmp_path):
    from app.extensions import db
    from models import Structure
    from tests.conftest import client_for, run_cli

    with fresh_app.app_context():
        sid = db.session.scalar(select(Structure.id).where(Structure.code_dna == "C1401"))
    path = tmp_path / "places.xlsx"
    path.write_bytes(_workbook({"Places": [["Code DNA", "Année", "Places autorisées"], ["C1401", 2025, 4321]]}))
    result = run_cli(fresh_app, "bhasile", "import", str(path), "--user", "normandie")
    assert result.exit_code == 0, result.output
    fiche = client_for(fresh_app, "normandie").get(f"/structureview/show/{sid}").get_data(as_text=True)
    historique = fiche[fiche.index('id="historique"'):].replace("\u202f", " ").replace("\u00a0", " ")
    assert "4 321" in historique and "par Normandie Agent régional" in historique
    assert re.search(r'<a href="/imports/\d+/">import n° \d+</a>', historique)


HOSTILE = "Revu\ten commission\\le 3/4\r\nsuite : \\N, « accents » ; fin"


def _with_hostile_comment(data: bytes) -> bytes:
    """The workbook with a Budgets comment holding what the history's text must escape."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["Budgets"]
    col = [c.value for c in ws[1]].index("Commentaire") + 1
    ws.cell(3, col, HOSTILE)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_history_sent_as_copy_text_is_the_history_inserted_row_by_row(two_apps, monkeypatch):
    """PostgreSQL receives a big history by COPY (``app.audit.HistoryBatch``):
    the same rows, to the character and the microsecond, as the row-by-row INSERT of a small
    one — tabs, line breaks, backslashes and « \\N » typed in a comment included."""
    from app import audit
    from app.extensions import db
    from models import BudgetAnnee, Changement

    with two_apps[0].app_context():
        edited = _with_hostile_comment(_edited_calvados())
    outcome = []
    for application, copy_from in zip(two_apps, (10 ** 9, 0)):
        monkeypatch.setattr(audit, "COPY_FROM", copy_from)
        with application.app_context():
            _apply(edited, True, "calvados.xlsx")
            outcome.append(_snapshot())
            stamps = set(db.session.scalars(select(Changement.at).where(Changement.batch_id == BATCH)))
            written = set(db.session.scalars(select(BudgetAnnee.updated_at).where(BudgetAnnee.commentaire == HOSTILE)))
            comments = set(db.session.scalars(select(Changement.new_value).where(
                Changement.batch_id == BATCH, Changement.field == "commentaire")))
            db.session.rollback()
        assert len(stamps) == 1 and stamps == written   # the batch's time, to the microsecond
        assert HOSTILE in comments
    (inserted_tables, inserted), (copied_tables, copied) = outcome
    assert len(copied) > 200 and {r["action"] for r in copied} == {"create", "update", "delete"}
    assert copied_tables == inserted_tables
    assert sorted(map(repr, copied)) == sorted(map(repr, inserted))
