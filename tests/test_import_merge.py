"""Old files never undo newer changes: an export records its instant, the import of the edited
file rebuilds its values as exported from the change history and merges three ways — the agent's changes apply, changes made in
BHasile since the export are kept, a cell changed on both sides is a conflict the agent settles
before anything is written. A file without export metadata is compared as always, its rows
changed in BHasile after the file was last saved flagged « à vérifier »."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
import re
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import Auth, client_for, run_cli
from tests.test_import_gate import assert_same, snapshot

CODE = "C1401"


# --- helpers ---------------------------------------------------------------------------------------

def export(app, login: str = "calvados", sheets=("Structures",)) -> bytes:
    """The workbook ``login`` downloads today (their scope)."""
    from app.extensions import db
    from exports.workbook import export_workbook
    from imports.cli import user_scope

    with app.app_context():
        scope, _user = user_scope(login)
        out = io.BytesIO()
        export_workbook(db.session, out, scope, sheets=list(sheets), user=login)
        db.session.rollback()
        return out.getvalue()


def edit(data: bytes, sheet: str, code: str, **cells) -> bytes:
    """The file as the agent saves it from Excel: ``cells`` (header → value) changed on the
    row of ``code``; ``sheet`` may name an older export's hidden twin (``_base1``)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book[sheet]
    headers = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == code)
    for header, value in cells.items():
        row[headers.index(header)].value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def stored(app, code: str = CODE, field: str = "commune"):
    from app.extensions import db
    from models import Structure

    with app.app_context():
        value = db.session.scalar(select(getattr(Structure, field)).where(Structure.code_dna == code))
        db.session.rollback()
        return value


def change_in_bhasile(app, code: str = CODE, **values) -> None:
    """Another agent saves the structure's fiche (the change lands in the history)."""
    from app.extensions import db
    from models import Structure

    with app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.code_dna == code))
        for name, value in values.items():
            setattr(structure, name, value)
        db.session.commit()


def preview(app, data: bytes, login: str = "calvados", choices=None):
    from app.extensions import db
    from imports.cli import user_scope
    from imports.pipeline import ImportCommand

    with app.app_context():
        scope, _user = user_scope(login)
        result = ImportCommand(data, "calvados.xlsx", scope, choices=choices).validate()
        db.session.rollback()
        return result


def cli_import(app, tmp_path, data: bytes, *extra: str, login: str = "calvados"):
    path = tmp_path / "calvados.xlsx"
    path.write_bytes(data)
    return run_cli(app, "bhasile", "import", str(path), "--user", login, *extra)


def changed_fields(result, code: str = CODE) -> dict:
    return next((r.changed for r in result.changes if r.key[0] == code), {})


# --- the export records its base -----------------------------------------------------------------

def old_format(data: bytes) -> bytes:
    """The file as an export made before 85f5420's successor wrote it: each data sheet with a
    hidden twin (``_base1``...) holding its rows as exported, named in ``_bhasile``."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    meta = book["_bhasile"]
    for n, name in enumerate([ws.title for ws in book.worksheets if not ws.title.startswith("_")], 1):
        twin = book.copy_worksheet(book[name])
        twin.title, twin.sheet_state = f"_base{n}", "hidden"
        meta.append([f"base:{name}", twin.title])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_export_holds_no_twin_sheet_and_its_utc_instant(app):
    before = dt.datetime.now(dt.timezone.utc)
    book = openpyxl.load_workbook(io.BytesIO(export(app, sheets=("Structures", "Places"))))
    assert book.sheetnames == ["Structures", "Places", "_bhasile"]
    meta = {row[0].value: row[1].value for row in book["_bhasile"].iter_rows()}
    assert not [k for k in meta if k.startswith("base:")]
    exported = dt.datetime.fromisoformat(meta["export_utc"])
    assert before <= exported <= dt.datetime.now(dt.timezone.utc)
    assert meta["schema_version"] and meta["export_date"] and meta["user"] == "calvados"


def test_an_untouched_export_imports_with_no_change_no_warning(app):
    result = preview(app, export(app, sheets=("Structures", "Places", "Budgets", "Adresses")))
    assert not result.errors and not result.changes and not result.warnings
    assert not result.notes and not result.conflicts


# --- the three-way merge ---------------------------------------------------------------------------

def test_a_field_changed_in_bhasile_since_the_export_is_kept(fresh_app, tmp_path):
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    data = edit(old, "Structures", CODE, Notes="revu le 3/12")
    result = preview(fresh_app, data)
    assert set(changed_fields(result)) == {"notes"}
    assert any("modifié dans BHasile depuis l'export (valeur actuelle conservée : Bayeux-Nouvelle)"
               in n.message and n.column == "Commune" for n in result.notes)
    outcome = cli_import(fresh_app, tmp_path, data)
    assert outcome.exit_code == 0, outcome.output
    assert stored(fresh_app) == "Bayeux-Nouvelle" and stored(fresh_app, field="notes") == "revu le 3/12"


def sorted_backwards(data: bytes, sheet: str = "Structures") -> bytes:
    """The file after the agent sorted the visible sheet Z→A."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book[sheet]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    for r, values in enumerate(reversed(rows), 2):
        for c, value in enumerate(values, 1):
            ws.cell(r, c).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_rows_left_as_exported_keep_every_newer_value_even_sorted(fresh_app):
    """Most rows of an edited export are untouched: BHasile's newer values are kept on them,
    wherever the agent's sort put them."""
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")          # CODE's row: untouched
    change_in_bhasile(fresh_app, "C1402", commune="Lisieux-Nouvelle")  # C1402's row: edited too
    data = sorted_backwards(edit(old, "Structures", "C1402", Notes="revu"))
    result = preview(fresh_app, data)
    assert not result.errors and not result.conflicts
    assert changed_fields(result) == {} and set(changed_fields(result, "C1402")) == {"notes"}
    kept = {n.message for n in result.notes if n.column == "Commune"}
    assert kept == {"modifié dans BHasile depuis l'export (valeur actuelle conservée : Bayeux-Nouvelle)",
                    "modifié dans BHasile depuis l'export (valeur actuelle conservée : Lisieux-Nouvelle)"}


def test_every_kind_of_value_changed_since_the_export_is_kept(fresh_app):
    """The base read from the history is compared as the file's cells are: a reference (the
    opérateur, shown by its name), an enumeration, a date, a yes/no and a decimal changed in
    BHasile since the export are kept on a row the agent left; on another row the agent's own
    changes to them apply."""
    from app.extensions import db
    from models import BudgetAnnee, Operateur, Structure

    old = export(fresh_app, sheets=("Structures", "Budgets"))
    with fresh_app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.code_dna == CODE))
        other = db.session.scalar(select(Operateur).where(Operateur.id != structure.operateur_id)
                                  .order_by(Operateur.id))
        structure.operateur_id, structure.lgbt = other.id, not structure.lgbt
        structure.date_creation = dt.date(1999, 9, 9)
        budget = db.session.scalar(select(BudgetAnnee).where(BudgetAnnee.structure_id == structure.id)
                                   .order_by(BudgetAnnee.annee))
        budget.etp = (budget.etp or 0) + Decimal("1.25")
        year, name = budget.annee, other.nom
        db.session.commit()
    result = preview(fresh_app, old)
    assert not result.errors and not result.conflicts and not result.changes
    kept = {(n.sheet, n.column) for n in result.notes if "valeur actuelle conservée" in n.message}
    assert kept == {("Structures", "Opérateur"), ("Structures", "LGBT"),
                    ("Structures", "Date de création"), ("Budgets", "ETP")}, result.notes
    assert any(f"valeur actuelle conservée : {name}" in n.message for n in result.notes)
    assert year


def test_a_conventions_structures_changed_since_the_export_are_to_check(fresh_app):
    """A convention's codes DNA have no field of their own in the history (they are its
    ``convention_structure`` rows): a file changing them is compared as always, and flagged
    « à vérifier » when BHasile changed them since the export."""
    from app.extensions import db
    from models import Convention, ConventionStructure, Structure

    old = export(fresh_app, login="normandie", sheets=("Conventions",))
    book = openpyxl.load_workbook(io.BytesIO(old))
    ws = book["Conventions"]
    headers = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[headers.index("Codes DNA")].value)
    reference, code = row[0].value, str(row[headers.index("Codes DNA")].value).split(",")[0]
    with fresh_app.app_context():
        convention = db.session.scalar(select(Convention).where(Convention.reference == reference))
        first = db.session.scalar(select(Structure).where(Structure.code_dna == code))
        added, typed = db.session.scalars(select(Structure).where(
            Structure.departement_id == first.departement_id, Structure.id != first.id)
            .order_by(Structure.code_dna).limit(2)).all()
        db.session.add(ConventionStructure(convention_id=convention.id, structure_id=added.id))
        typed = typed.code_dna
        db.session.commit()
    edited = edit(old, "Conventions", reference, **{"Codes DNA": f"{code}, {typed}"})
    result = preview(fresh_app, edited, login="normandie")
    assert "codes_dna" in changed_fields(result, reference), (result.errors, result.notes)
    flagged = [n for n in result.notes if n.column == "Codes DNA"]
    assert len(flagged) == 1 and flagged[0].message.startswith(
        "à vérifier : modifié dans BHasile depuis l'export"), result.notes
    untouched = preview(fresh_app, edit(export(fresh_app, login="normandie", sheets=("Conventions",)),
                                        "Conventions", reference, **{"Codes DNA": code}),
                        login="normandie")
    assert not [n for n in untouched.notes if n.column == "Codes DNA"]


def test_the_agents_own_change_applies(fresh_app, tmp_path):
    data = edit(export(fresh_app), "Structures", CODE, Commune="Lisieux")
    change_in_bhasile(fresh_app, notes="ajouté dans BHasile")
    outcome = cli_import(fresh_app, tmp_path, data)
    assert outcome.exit_code == 0, outcome.output
    assert stored(fresh_app) == "Lisieux" and stored(fresh_app, field="notes") == "ajouté dans BHasile"


def test_a_formatting_difference_is_not_a_change(fresh_app):
    old = export(fresh_app)
    commune = stored(fresh_app)
    change_in_bhasile(fresh_app, commune="Caen-Nord")
    result = preview(fresh_app, edit(old, "Structures", CODE, Commune=f"  {commune} "))
    assert not changed_fields(result) and not result.conflicts


def test_same_field_changed_on_both_sides_is_a_conflict_nothing_written(fresh_app, tmp_path):
    data = edit(export(fresh_app), "Structures", CODE, Commune="Lisieux")
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    before = snapshot(fresh_app)
    outcome = cli_import(fresh_app, tmp_path, data)
    assert outcome.exit_code == 1
    assert re.search(r"CONFLIT Structures ligne \d+, colonne Commune : votre fichier : Lisieux / "
                     r"BHasile : Bayeux-Nouvelle", outcome.output), outcome.output
    assert "--conflits" in outcome.output
    assert_same(fresh_app, before)


@pytest.mark.parametrize("side,expected", [("fichier", "Lisieux"), ("bhasile", "Bayeux-Nouvelle")])
def test_cli_conflict_settled_for_one_side(fresh_app, tmp_path, side, expected):
    data = edit(export(fresh_app), "Structures", CODE, Commune="Lisieux", Notes="vu")
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    outcome = cli_import(fresh_app, tmp_path, data, "--conflits", side)
    assert outcome.exit_code == 0, outcome.output
    assert stored(fresh_app) == expected and stored(fresh_app, field="notes") == "vu"


def test_a_row_deleted_since_the_export_is_not_recreated(fresh_app, tmp_path):
    from app.extensions import db
    from models import PlacesAnnee, Structure

    old = export(fresh_app, sheets=("Places",))
    with fresh_app.app_context():
        row = db.session.scalar(select(PlacesAnnee).join(Structure).where(Structure.code_dna == CODE)
                                .order_by(PlacesAnnee.annee))
        year = row.annee
        db.session.delete(row)
        db.session.commit()
    book = openpyxl.load_workbook(io.BytesIO(old))
    ws = book["Places"]
    target = next(r for r in ws.iter_rows(min_row=2) if r[0].value == CODE and r[1].value == year)
    target[2].value = 99
    out = io.BytesIO()
    book.save(out)
    result = preview(fresh_app, out.getvalue())
    assert not result.errors and not result.changes
    assert any(f"({CODE} / {year}) : ligne supprimée de BHasile depuis l'export, elle n'est pas "
               "recréée" in w for w in result.warnings)
    outcome = cli_import(fresh_app, tmp_path, out.getvalue())
    assert outcome.exit_code == 0, outcome.output
    with fresh_app.app_context():
        assert db.session.scalar(select(PlacesAnnee).join(Structure).where(
            Structure.code_dna == CODE, PlacesAnnee.annee == year)) is None


def test_a_row_added_by_the_agent_is_created(fresh_app):
    book = openpyxl.load_workbook(io.BytesIO(export(fresh_app, sheets=("Places",))))
    ws = book["Places"]
    ws.append([CODE, 2031, 12])
    out = io.BytesIO()
    book.save(out)
    result = preview(fresh_app, out.getvalue())
    assert [(r.key, r.status) for r in result.changes] == [((CODE, 2031), "new")]


# --- files without export metadata: « à vérifier » -------------------------------------------------

def saved_at(data: bytes, when: dt.datetime) -> bytes:
    """The file as if Excel last saved it at ``when`` (UTC): its core properties rewritten."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]+", rb"\g<1>"
                              + when.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), body)
            dst.writestr(item, body)
    return out.getvalue()


def own_file(app) -> bytes:
    """An agent's own follow-up file, typed from BHasile's values of the day."""
    book = openpyxl.Workbook()
    book.active.title = "Suivi Calvados"
    book.active.append(["N° DNA", "Nom", "Commune", "Notes"])
    for code, notes in ((CODE, "à relancer"), ("C1402", "ok")):
        book.active.append([code, stored(app, code, "nom"), stored(app, code), notes])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_own_file_rows_changed_after_the_file_was_saved_are_to_check(fresh_app):
    saved = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=2)
    data = saved_at(own_file(fresh_app), saved)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    result = preview(fresh_app, data)
    flagged = [n for n in result.notes if n.message.startswith("à vérifier")]
    assert [(n.row, n.column) for n in flagged] == [(2, "Code DNA")]
    assert any(f"ligne 2 ({CODE}) : à vérifier, modifiée dans BHasile le" in w for w in result.warnings)
    # the file's date in Paris time, as the agent saw it on their computer's clock
    paris = saved.astimezone(ZoneInfo("Europe/Paris"))
    assert any(f"(heure de Paris), après la dernière modification du fichier "
               f"({paris:%d/%m/%Y à %H:%M})" in w for w in result.warnings)
    assert not result.errors and result.exit_code == 0          # a warning, not an error
    assert set(changed_fields(result)) == {"commune", "notes"}  # compared as today: the file
    # would put the old commune back, which is why the row is flagged


def test_own_file_saved_after_the_change_is_not_flagged(fresh_app):
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    result = preview(fresh_app, saved_at(own_file(fresh_app), later))
    assert not [n for n in result.notes if "à vérifier" in n.message]


def test_file_dates_of_each_format(app):
    from imports.filedate import modified_at

    when = dt.datetime(2025, 3, 4, 5, 6, 7)
    assert modified_at(saved_at(own_file(app), when)) == when
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("meta.xml", '<office:document-meta><office:meta><dc:date>2025-03-04T05:06:07'
                                '.123456789</dc:date></office:meta></office:document-meta>')
    assert modified_at(ods.getvalue()) == when.replace(microsecond=123456)
    assert modified_at(b"Code DNA;Nom\nC1401;x\n") is None
    assert modified_at(b"PK\x03\x04 broken") is None


# --- the web flow -------------------------------------------------------------------------------

def upload(client, data: bytes) -> int:
    token = Auth(client).csrf("/imports/")
    sent = client.post("/imports/envoyer", data={"csrf_token": token, "annee": "",
                                                 "fichier": (io.BytesIO(data), "calvados.xlsx")},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, sent.status_code
    return int(re.search(r"/imports/(\d+)/", sent.headers["Location"]).group(1))


def apply(client, batch: int) -> str:
    token = Auth(client).csrf(f"/imports/{batch}/")
    return client.post(f"/imports/{batch}/appliquer", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)


def choose(client, batch: int, **form) -> str:
    token = Auth(client).csrf(f"/imports/{batch}/")
    return client.post(f"/imports/{batch}/choix", data={"csrf_token": token, **form},
                       follow_redirects=True).get_data(as_text=True)


def conflict_file(app) -> bytes:
    data = edit(export(app), "Structures", CODE, Commune="Lisieux", Notes="vu en visite")
    change_in_bhasile(app, commune="Bayeux-Nouvelle")
    return data


def test_web_conflict_shows_both_values_and_refuses_the_apply_until_chosen(fresh_app):
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, conflict_file(fresh_app))
    page = agent.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "votre fichier : Lisieux / BHasile : Bayeux-Nouvelle" in page
    assert "garder ma valeur" in page and "garder la valeur de BHasile" in page
    assert "1 conflit(s) sans choix" in page
    before = snapshot(fresh_app)
    done = apply(agent, batch)
    assert "Choisissez une valeur pour chaque conflit" in done
    assert_same(fresh_app, before)


@pytest.mark.parametrize("form,expected", [
    ({"choix-0": "fichier"}, "Lisieux"), ({"choix-0": "bhasile"}, "Bayeux-Nouvelle"),
    ({"tout": "fichier"}, "Lisieux"), ({"tout": "bhasile"}, "Bayeux-Nouvelle")])
def test_web_choice_per_cell_then_apply(fresh_app, form, expected):
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, conflict_file(fresh_app))
    choose(agent, batch, **form)
    assert "Import appliqué" in apply(agent, batch)
    assert stored(fresh_app) == expected and stored(fresh_app, field="notes") == "vu en visite"


def test_web_stale_check_still_catches_a_change_after_the_choice(fresh_app):
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, conflict_file(fresh_app))
    choose(agent, batch, **{"choix-0": "fichier"})
    change_in_bhasile(fresh_app, commune="Falaise")       # meanwhile, on the conflict cell
    done = apply(agent, batch)
    assert "modifiées depuis l&#39;aperçu" in done and CODE in done
    assert stored(fresh_app) == "Falaise" and stored(fresh_app, field="notes") != "vu en visite"


def test_annotated_file_shows_conflicts_and_kept_values(fresh_app):
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, conflict_file(fresh_app))
    book = openpyxl.load_workbook(io.BytesIO(agent.get(f"/imports/{batch}/annote").data))
    ws = book["Structures"]
    headers = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == CODE)
    cell = row[headers.index("Commune")]
    assert "votre fichier : Lisieux / BHasile : Bayeux-Nouvelle" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFEB9C")


# --- attackers -------------------------------------------------------------------------------------

def test_editing_an_old_files_hidden_base_cannot_reach_outside_the_territory(fresh_app, tmp_path):
    """A Calvados agent copies a row of the Ain into both the sheet and its twin: still refused."""
    data = old_format(export(fresh_app))
    book = openpyxl.load_workbook(io.BytesIO(data))
    for name in ("Structures", "_base1"):
        ws = book[name]
        ws.append(["C0101", "Pris en main"] + [None] * (ws.max_column - 2))
    book["Structures"].cell(book["Structures"].max_row, 2).value = "Détourné"
    out = io.BytesIO()
    book.save(out)
    before = snapshot(fresh_app)
    outcome = cli_import(fresh_app, tmp_path, out.getvalue())
    assert outcome.exit_code == 1 and "hors de votre périmètre" in outcome.output
    assert_same(fresh_app, before)


def test_editing_an_old_files_hidden_base_cannot_write_a_state_field(fresh_app, tmp_path):
    """An opérateur changes a State field, and its base so that only the file seems to have
    changed it, or so that it is a conflict settled « fichier »: the gate refuses both."""
    from app.extensions import db
    from models import PlacesAnnee, Structure
    from imports.cli import user_scope

    with fresh_app.app_context():
        scope, _user = user_scope("operateur")
        row = db.session.scalar(select(PlacesAnnee).join(Structure)
                                .where(Structure.operateur_id == scope.operateur_id)
                                .order_by(Structure.code_dna, PlacesAnnee.annee))
        code, places = row.structure.code_dna, row.places_autorisees
        db.session.rollback()
    data = old_format(export(fresh_app, login="operateur", sheets=("Places",)))
    data = edit(data, "Places", code, **{"Places autorisées": places + 500})
    before = snapshot(fresh_app)
    for base_value, extra in ((places, ()), (places + 1, ("--conflits", "fichier"))):
        forged = edit(data, "_base1", code, **{"Places autorisées": base_value})
        outcome = cli_import(fresh_app, tmp_path, forged, *extra, login="operateur")
        assert outcome.exit_code == 1 and "réservé aux services de l" in outcome.output, outcome.output
        assert_same(fresh_app, before)


def test_an_old_file_with_twins_merges_from_the_history_its_twins_unread(fresh_app, tmp_path):
    """A file exported with hidden twins (before the history served as base): its twins are
    not even read — a forged twin changes nothing — and the merge is the same: the newer
    value kept, the agent's own change applied, a cell changed on both sides a conflict."""
    old = old_format(export(fresh_app, sheets=("Structures", "Places")))
    assert "_base1" in openpyxl.load_workbook(io.BytesIO(old)).sheetnames
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle", nom="Nom changé dans BHasile")
    data = edit(old, "Structures", CODE, Notes="revu", Nom="Nom de l'agent")
    data = edit(data, "_base1", CODE, Commune="Ailleurs", Notes="revu")   # ignored
    result = preview(fresh_app, data)
    assert set(changed_fields(result)) == {"notes", "nom"} and not result.errors   # nom: to choose
    assert any("valeur actuelle conservée : Bayeux-Nouvelle" in n.message and n.column == "Commune"
               for n in result.notes)
    assert [(c.issue.column, c.texts) for c in result.conflicts] == [
        ("Nom", ("Nom de l'agent", "Nom changé dans BHasile"))]
    assert not result.warnings
    outcome = cli_import(fresh_app, tmp_path, data, "--conflits", "bhasile")
    assert outcome.exit_code == 0, outcome.output
    assert stored(fresh_app) == "Bayeux-Nouvelle" and stored(fresh_app, field="notes") == "revu"
    assert stored(fresh_app, field="nom") == "Nom changé dans BHasile"


def test_a_twin_sheet_is_never_measured_nor_read(app, monkeypatch):
    """An old file's hidden twins cost nothing: neither the pre-scan, nor the slices, nor calamine
    opens them."""
    from imports import prescan, slices
    from imports.reader import read_file

    read = []
    measure, sliced = prescan._measure_sheet, slices.SlicedSheet._slices

    def spy_measure(data, path, name, *args):
        read.append(name)
        return measure(data, path, name, *args)

    def spy_slices(self):
        read.append(self.name)
        return sliced(self)

    monkeypatch.setattr(prescan, "_measure_sheet", spy_measure)
    monkeypatch.setattr(slices.SlicedSheet, "_slices", spy_slices)
    sheets = read_file(old_format(export(app, sheets=("Structures", "Places"))), "old.xlsx",
                       1_000_000, 500)
    assert [s.name for s in sheets] == ["Structures", "Places", "_bhasile"]
    assert sorted(set(read)) == ["Places", "Structures", "_bhasile"]


def test_web_preview_says_which_newer_values_are_kept(fresh_app):
    old = export(fresh_app)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, edit(old, "Structures", CODE, Notes="revu"))
    page = agent.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "modifié dans BHasile depuis l&#39;export (valeur actuelle conservée : Bayeux-Nouvelle)" in page
    assert "Conflits" not in page


def test_choices_are_the_owners_and_only_the_two_sides(fresh_app):
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, conflict_file(fresh_app))
    other = client_for(fresh_app, "normandie")           # a regional agent, not the batch's owner
    token = Auth(other).csrf("/imports/")
    assert other.post(f"/imports/{batch}/choix", data={"csrf_token": token, "tout": "fichier"}
                      ).status_code == 404
    choose(agent, batch, **{"choix-0": "pirate"})
    assert "Choisissez une valeur pour chaque conflit" in apply(agent, batch)
    assert agent.post(f"/imports/{batch}/choix", data={"tout": "fichier"}).status_code in (302, 400)
    assert "Choisissez une valeur pour chaque conflit" in apply(agent, batch)   # no CSRF, no choice
    assert stored(fresh_app) == "Bayeux-Nouvelle"


def test_annotated_own_file_marks_the_rows_to_check(fresh_app):
    saved = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=2)
    data = saved_at(own_file(fresh_app), saved)
    change_in_bhasile(fresh_app, commune="Bayeux-Nouvelle")
    agent = client_for(fresh_app, "calvados")
    batch = upload(agent, data)
    book = openpyxl.load_workbook(io.BytesIO(agent.get(f"/imports/{batch}/annote").data))
    cell = book["Suivi Calvados"]["A2"]
    assert cell.value == CODE and cell.comment.text.startswith("à vérifier")
    assert book["Suivi Calvados"]["A3"].comment is None


def test_cli_json_lists_the_conflicts(fresh_app, tmp_path):
    import json

    outcome = cli_import(fresh_app, tmp_path, conflict_file(fresh_app), "--dry-run", "--json")
    assert outcome.exit_code == 1
    report = json.loads(outcome.output)
    assert [(c["column"], c["mine"], c["theirs"], c["choice"]) for c in report["conflicts"]] == \
        [("Commune", "Lisieux", "Bayeux-Nouvelle", None)]


def test_own_file_rows_it_leaves_as_stored_are_not_flagged(fresh_app):
    """Changed in BHasile since, but the file says the same: nothing to put back, no warning."""
    saved = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=2)
    change_in_bhasile(fresh_app, notes="à relancer")
    result = preview(fresh_app, saved_at(own_file(fresh_app), saved))
    assert not changed_fields(result)
    assert not [n for n in result.notes if "à vérifier" in n.message]


def test_a_newer_value_of_another_territory_is_never_shown_to_an_agent(fresh_app):
    """A national export, a structure of another département changed in BHasile since, and the
    file previewed by the Calvados agent: its row is refused, and no note, conflict or error
    shows the newer value the merge rebuilt from the history."""
    from sqlalchemy import select

    from app.extensions import db
    from models import Departement, Structure

    with fresh_app.app_context():
        other = db.session.scalar(select(Structure.code_dna).join(
            Departement, Structure.departement_id == Departement.id)
            .where(Departement.code != "14").order_by(Structure.id))
    old = export(fresh_app, login="admin")
    change_in_bhasile(fresh_app, code=other, commune="Commune-Secrete")
    data = edit(old, "Structures", other, Notes="vu")
    result = preview(fresh_app, data)
    said = " ".join(str(getattr(x, attr, "")) for group in (result.notes, result.errors)
                    for x in group for attr in ("message", "value"))
    said += " ".join(str(c) for c in getattr(result, "conflicts", []) or [])
    assert result.errors
    assert "Commune-Secrete" not in said
