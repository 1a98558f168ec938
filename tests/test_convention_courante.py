"""One source of truth for a structure's convention dates: its current convention (the signed
one in force today, else the latest). The testers' story: a structure whose convention ended
on 31/12/2025 signs a new one for 2027–2029; the fiche, the list, the export, « À traiter » and
the dashboards all say 31/12/2029 and none says "Expirée"."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import delete, select

from models import Convention, ConventionStructure, Departement, Structure
from models.enums import StatutConvention, TypeConvention
from tests.conftest import client_for, run_cli

ROOT = Path(__file__).resolve().parent.parent
_SERIAL = itertools.count(1)


def _calvados_structure(app) -> tuple[int, str]:
    with app.app_context():
        from app.extensions import db

        dep = select(Departement.id).where(Departement.code == "14").scalar_subquery()
        row = db.session.execute(select(Structure.id, Structure.code_dna)
                                 .where(Structure.departement_id == dep).order_by(Structure.id)).first()
        return row.id, row.code_dna


def _give_conventions(app, sid: int, *conventions: tuple) -> None:
    """Replace the structure's conventions by (type, statut, début, fin) ones."""
    with app.app_context():
        from app.extensions import db

        db.session.execute(delete(ConventionStructure).where(ConventionStructure.structure_id == sid))
        op = db.session.get(Structure, sid).operateur_id
        for type_, statut, debut, fin in conventions:
            convention = Convention(reference=f"TEST-{sid}-{next(_SERIAL)}", type=type_, statut=statut,
                                    operateur_id=op, date_debut=debut, date_fin=fin)
            convention.structures.append(ConventionStructure(structure_id=sid))
            db.session.add(convention)
        db.session.commit()
    # « À traiter » reads the aggregates, rebuilt within the minute after a save
    assert run_cli(app, "bhasile", "rebuild").exit_code == 0


def _fin(app, sid: int):
    with app.app_context():
        from app.extensions import db

        return db.session.scalar(select(Structure.fin_convention).where(Structure.id == sid))


OLD = (TypeConvention.CONVENTION, StatutConvention.ECHUE, dt.date(2023, 1, 1), dt.date(2025, 12, 31))
NEW = (TypeConvention.CONVENTION, StatutConvention.SIGNEE, dt.date(2027, 1, 1), dt.date(2029, 12, 31))


def test_a_new_signed_convention_is_the_end_date_everywhere(fresh_app):
    sid, code = _calvados_structure(fresh_app)
    _give_conventions(fresh_app, sid, OLD, NEW)
    assert _fin(fresh_app, sid) == dt.date(2029, 12, 31)
    client = client_for(fresh_app, "calvados")

    fiche = client.get(f"/structureview/show/{sid}").get_data(as_text=True)
    assert "31/12/2029" in fiche

    listing = client.get(f"/structureview/list/?q={code}").get_data(as_text=True)
    row = re.search(rf"<th scope=\"row\"><a [^>]*>{code}</a>(?:(?!</tr>).)*</tr>", listing, re.S).group(0)
    assert "31/12/2029" in row and "31/12/2025" not in row

    a_traiter = client.get("/a-traiter/").get_data(as_text=True)
    assert not re.search(rf"{code}(?:(?!</li>|</tr>).)*Expirée", a_traiter, re.S)

    export = client.get(f"/exporter/vue/StructureView/?q={code}")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data))["Structures"]
    headers = [c.value for c in sheet[1]]
    line = next(dict(zip(headers, [c.value for c in r])) for r in sheet.iter_rows(min_row=2)
                if r[0].value == code)
    assert line["Fin convention"].date() == dt.date(2029, 12, 31)


def test_the_convention_in_force_today_wins_over_a_later_one_and_drafts_do_not_count(fresh_app):
    sid, _code = _calvados_structure(fresh_app)
    today = dt.date.today()
    in_force = (TypeConvention.CPOM, StatutConvention.SIGNEE, today - dt.timedelta(days=400),
                today + dt.timedelta(days=200))
    later = (TypeConvention.CONVENTION, StatutConvention.SIGNEE, today + dt.timedelta(days=201),
             today + dt.timedelta(days=1500))
    draft = (TypeConvention.CONVENTION, StatutConvention.BROUILLON, today - dt.timedelta(days=10),
             today + dt.timedelta(days=3000))
    arrete = (TypeConvention.ARRETE_TARIFICATION, StatutConvention.SIGNEE, today, today + dt.timedelta(days=90))
    _give_conventions(fresh_app, sid, in_force, later, draft, arrete)
    assert _fin(fresh_app, sid) == in_force[3]
    _give_conventions(fresh_app, sid, later, draft, arrete)
    assert _fin(fresh_app, sid) == later[3]
    _give_conventions(fresh_app, sid, draft)
    assert _fin(fresh_app, sid) is None


def test_an_expired_convention_without_a_successor_is_to_handle(fresh_app):
    sid, code = _calvados_structure(fresh_app)
    _give_conventions(fresh_app, sid, OLD)
    page = client_for(fresh_app, "calvados").get("/a-traiter/").get_data(as_text=True)
    assert re.search(rf"{code}(?:(?!{code}).)*Expirée le 31/12/2025", page, re.S)


def test_the_copy_on_the_structure_is_read_nowhere():
    """The columns once copied onto the structure stay (a later migration drops them) but no
    code reads them: only their declaration names them."""
    hits = []
    for folder in ("app", "views", "models", "imports", "exports"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            for name in ("debut_convention_copie", "fin_convention_copie"):
                if name in text:
                    hits.append((path.relative_to(ROOT).as_posix(), name, text.count(name)))
    assert sorted(hits) == [("models/structure.py", "debut_convention_copie", 1),
                            ("models/structure.py", "fin_convention_copie", 1)]


def test_convention_dates_are_not_typed_on_the_structure(app):
    """Neither the Calendrier form nor the API nor an import writes them (they are the
    convention's): the sheet column is read-only."""
    from app.sheets.canonical import STRUCTURES
    from views.structures import StructureApi, StructureCalendrierView

    assert "fin_convention" not in StructureCalendrierView.edit_columns
    assert "fin_convention" not in StructureApi.edit_columns
    column = next(c for c in STRUCTURES.columns if c.field == "fin_convention")
    assert column.read_only


def _both_ways(application) -> tuple[dict, dict]:
    """Every structure's (début, fin) as the fiche reads it (the column's correlated
    subquery) and as the rebuild reads it (``current_conventions``, set-based)."""
    from models.convention import current_conventions

    with application.app_context():
        from app.extensions import db

        column = {sid: (debut, fin) for sid, debut, fin in db.session.execute(
            select(Structure.id, Structure.debut_convention, Structure.fin_convention))}
        current = current_conventions()
        ranked = dict.fromkeys(column, (None, None))
        ranked.update({sid: (debut, fin) for sid, debut, fin in db.session.execute(select(current))})
        return column, ranked


def test_the_rebuild_and_the_fiche_read_the_same_current_convention_on_the_demo_park(app):
    column, ranked = _both_ways(app)
    assert len(column) >= 1000 and sum(1 for d in column.values() if d[1]) >= 500
    assert ranked == column


def test_ties_between_conventions_are_broken_alike(fresh_app):
    """Two signed conventions starting the same day (the last created wins), one without a
    start (its end stands for it), an avenant in force: the same choice both ways, and
    « À traiter » lists the same ends as the column gives."""
    from app.pilotage.a_traiter import build
    from models import AggATraiter

    today = dt.date.today()
    sid, _code = _calvados_structure(fresh_app)
    same_day = today - dt.timedelta(days=30)
    _give_conventions(fresh_app, sid,
                      (TypeConvention.CONVENTION, StatutConvention.SIGNEE, same_day, today + dt.timedelta(days=20)),
                      (TypeConvention.CONVENTION, StatutConvention.ECHUE, same_day, today + dt.timedelta(days=40)),
                      (TypeConvention.CONVENTION, StatutConvention.SIGNEE, None, today - dt.timedelta(days=1)))
    other = sid + 1
    _give_conventions(fresh_app, other,
                      (TypeConvention.AVENANT, StatutConvention.SIGNEE, None, today + dt.timedelta(days=10)),
                      (TypeConvention.CPOM, StatutConvention.SIGNEE, today - dt.timedelta(days=5), None))
    column, ranked = _both_ways(fresh_app)
    assert ranked == column
    assert column[sid][1] == today + dt.timedelta(days=40)
    with fresh_app.app_context():
        from app.extensions import db
        from app.pilotage.tableaux import add_months

        with db.engine.begin() as conn:
            build(conn, today)
        listed = set(db.session.execute(select(AggATraiter.structure_id, AggATraiter.echeance)
                                        .where(AggATraiter.rubrique == "conventions")))
    limit = add_months(today, 3)
    assert listed == {(s, fin) for s, (_debut, fin) in column.items() if fin is not None and fin <= limit}
    assert (sid, today + dt.timedelta(days=40)) in listed


def test_the_dashboards_count_the_conventions_ending_as_the_fiches_show_them(app):
    """« Conventions arrivant à échéance » (3, 6, 12 months) counts, for the nation and for a
    département, the structures whose fiche shows an end in the window."""
    from app.scope import NATIONAL
    from app.pilotage.tableaux import echeances, resolve

    column, _ranked = _both_ways(app)
    today = dt.date.today()
    with app.test_request_context():
        from app.extensions import db

        calvados = set(db.session.scalars(select(Structure.id).join(Departement).where(Departement.code == "14")))
        for niveau, code, ids in (("national", "FR", set(column)), ("departement", "14", calvados)):
            counts = echeances(resolve(niveau, code, NATIONAL), today)
            for _months, limit, count in counts:
                assert count == sum(1 for s in ids if column[s][1] and today <= column[s][1] <= limit)
            assert counts[-1][2] > counts[0][2] > 0 or niveau == "departement"
