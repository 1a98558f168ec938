"""A large file is checked and applied in the background: the agent sends it, follows the rows
read, checked and written on the batch page, then sees the same preview and the same outcome
a small file gives at once — only their own batch, only their territory, all or nothing."""
from __future__ import annotations

import datetime as dt
import html
import io
import re
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import SAMPLES, Auth, client_for
from tests.test_import_gate import OUTSIDE, assert_same, park, snapshot, workbook  # noqa: F401

SAMPLE = (SAMPLES / "classeur-exemple.xlsx").read_bytes()


@pytest.fixture()
def large(fresh_app):
    """Every file above 1 000 bytes is checked and applied in the background."""
    fresh_app.config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 1000
    return fresh_app


@pytest.fixture()
def held(monkeypatch):
    """Background steps are not started: the test runs them when it chooses (``run``)."""
    from imports import background

    steps: list[tuple] = []
    monkeypatch.setattr(background, "start", lambda app, step, batch_id, owner: steps.append(
        (step, batch_id, owner)))
    return steps


def run(app, steps: list[tuple]) -> None:
    """Run the held background steps, each in its own app context as a worker thread does."""
    from app.extensions import db

    while steps:
        step, batch_id, owner = steps.pop(0)
        with app.app_context():
            step(batch_id, owner)
            db.session.remove()


def upload(client, data: bytes, name: str = "classeur.xlsx"):
    token = Auth(client).csrf("/imports/")
    return client.post("/imports/envoyer", data={"csrf_token": token, "annee": "",
                                                 "fichier": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def batch_of(response) -> int:
    assert response.status_code == 302, response.status_code
    return int(re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1))


def apply(client, batch: int):
    token = Auth(client).csrf("/imports/")
    return client.post(f"/imports/{batch}/appliquer", data={"csrf_token": token})


def follow(client, batch: int, timeout: float = 180) -> list[dict]:
    """Poll the batch's JSON status until its step is over; every state seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/imports/{batch}/etat.json")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        seen.append(response.get_json())
        if seen[-1]["finished"]:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"import still running: {seen[-1]}")


def text(response) -> str:
    """The page as the agent reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def stored(app, model_name: str, **where):
    from app.extensions import db
    import models

    with app.app_context():
        model = getattr(models, model_name)
        value = db.session.scalars(select(model).filter_by(**where)).all()
        db.session.remove()
        return value


def places_file(code: str, year: int, places: int) -> bytes:
    return workbook(Places=[["Code DNA", "Année", "Places autorisées"], [code, year, places]])


def places_of(app, code: str, year: int):
    from app.extensions import db
    from models import PlacesAnnee, Structure

    with app.app_context():
        value = db.session.scalar(select(PlacesAnnee.places_autorisees).join(Structure).where(
            Structure.code_dna == code, PlacesAnnee.annee == year))
        db.session.remove()
        return value


# --- the check ---------------------------------------------------------------------------------

def test_a_large_upload_shows_its_progress_then_the_same_preview(large, held):
    client = client_for(large, "normandie")
    large.config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 10**9
    small = client.get(f"/imports/{batch_of(upload(client, SAMPLE))}/").get_data(as_text=True)
    large.config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 1000
    response = upload(client, SAMPLE)
    batch = batch_of(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "vérification en cours" in page and "<progress" in page and "bhasile/imports.js" in page
    assert 'aria-live="polite"' in page and "traité en arrière-plan" in page
    assert "Lignes par feuille" not in page and "Appliquer l" not in page
    state = client.get(f"/imports/{batch}/etat.json").get_json()
    assert state["status"] == "verification" and not state["finished"]
    run(large, held)
    state = client.get(f"/imports/{batch}/etat.json").get_json()
    assert state["finished"] and state["status"] == "apercu"
    page = client.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "Lignes par feuille" in page and "Appliquer l" in page and "Horizon Accueil" in page

    def table(html: str) -> str:
        return re.search(r"Lignes par feuille.*?</table>", html, re.S).group(0)

    assert table(page) == table(small)


def test_the_progress_tells_the_rows_read_and_checked(large, monkeypatch):
    """A real worker thread: the page's JSON status moves from the reading of the file to the
    rows read, then checked, then the preview (the recording interval shortened)."""
    from app.extensions import db
    from imports import background
    from models import Departement, Structure

    monkeypatch.setattr(background, "PROGRESS_SECONDS", 0.0)
    with large.app_context():
        codes = db.session.scalars(select(Structure.code_dna).join(Departement)
                                   .where(Departement.code == "14")).all()
        db.session.remove()
    months = [dt.date(year, month, 1) for year in range(1940, 2021) for month in range(1, 13)]
    rows = [["Code DNA", "Mois", "Places autorisées"]]
    rows += [[code, month, 10] for code in codes for month in months]
    total = f"{len(rows) - 1:,}".replace(",", "\u202f")
    client = client_for(large, "calvados")
    batch = batch_of(upload(client, workbook(Activite=rows)))
    seen = follow(client, batch)
    stages = [s["stage"] for s in seen]
    assert seen[-1]["status"] == "apercu" and seen[-1]["finished"]
    checked = [s for s in seen if s["stage"] == "check" and 0 < s["rows_done"] < s["rows_total"]]
    read = [s for s in seen if s["stage"] == "parse" and 0 < s["rows_done"] < s["rows_total"]]
    assert checked or read, stages
    for state in checked:
        assert re.fullmatch(rf"[\d\u202f]+ lignes vérifiées sur {total}", state["message"])
        assert state["rows_total"] == len(rows) - 1 and 0 <= state["percent"] < 100
    order = ["read", "parse", "check", "save", ""]
    assert [order.index(s) for s in stages if s in order] == sorted(order.index(s) for s in stages
                                                                    if s in order)
    page = client.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "Lignes par feuille" in page and "Activité" in page


def test_the_status_says_the_stage_in_french(large, held):
    from app.extensions import db
    from models import ImportBatch

    client = client_for(large, "normandie")
    batch = batch_of(upload(client, SAMPLE))
    said = client.get(f"/imports/{batch}/etat.json").get_json()["message"]
    assert said == "Démarrage du traitement…"
    for stage, done, total, said in (("queued", 0, 0, "En attente : un autre import est en cours "
                                                   "de traitement…"),
                                     ("read", 0, 0, "Lecture du fichier…"),
                                     ("parse", 3000, 54000, "3\u202f000 lignes lues sur 54\u202f000"),
                                     ("check", 12000, 54000, "12\u202f000 lignes vérifiées sur 54\u202f000"),
                                     ("save", 0, 0, "Enregistrement du résultat…")):
        with large.app_context():
            row = db.session.get(ImportBatch, batch)
            row.progress_stage, row.progress_done, row.progress_total = stage, done, total
            db.session.commit()
            db.session.remove()
        state = client.get(f"/imports/{batch}/etat.json").get_json()
        assert state["message"] == said and state["percent"] == (100 * done // total if total else 0)
        assert said.replace("…", "") in client.get(f"/imports/{batch}/").get_data(as_text=True)


def test_small_files_stay_immediate(fresh_app):
    client = client_for(fresh_app, "normandie")
    response = upload(client, SAMPLE)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Lignes par feuille" in page and "<progress" not in page
    token = Auth(client).csrf(response.headers["Location"])
    done = client.post(response.headers["Location"] + "appliquer", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Import appliqué" in done and "<progress" not in done


# --- the apply ---------------------------------------------------------------------------------

def test_a_large_apply_runs_in_the_background_then_shows_the_result(large, park):
    mine = park["mine"]
    client = client_for(large, "calvados")
    batch = batch_of(upload(client, places_file(mine["code"], mine["year"], 4321)))
    assert follow(client, batch)[-1]["status"] == "apercu"
    response = apply(client, batch)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/imports/{batch}/")
    seen = follow(client, batch)
    assert seen[-1]["status"] == "applique", seen[-1]
    page = client.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "Import appliqué : 1 lignes écrites." in page and "appliqué" in page
    assert places_of(large, mine["code"], mine["year"]) == 4321
    history = stored(large, "Changement", batch_id=batch, field="places_autorisees")
    assert [(h.new_value, h.username, h.origin) for h in history] == [("4321", "calvados", "import")]
    assert history[0].user_id is not None


def test_two_applies_at_once_write_once(large, held, park):
    """A double click, or two tabs: the second « Appliquer » is told the first is running."""
    mine = park["mine"]
    client = client_for(large, "calvados")
    batch = batch_of(upload(client, places_file(mine["code"], mine["year"], 1234)))
    run(large, held)
    first, second = apply(client, batch), apply(client, batch)
    assert first.status_code == second.status_code == 302
    page = text(client.get(f"/imports/{batch}/"))
    assert "déjà en cours d'application" in page and "application en cours" in page
    assert len(held) == 1
    run(large, held)
    assert places_of(large, mine["code"], mine["year"]) == 1234
    assert len(stored(large, "Changement", batch_id=batch)) == 1
    again = client.get(apply(client, batch).headers["Location"]).get_data(as_text=True)
    assert "ne peut pas être appliqué (appliqué)" in again and not held
    assert "statut : applique" not in again   # the agent's word, never the stored one


def test_a_failing_apply_writes_nothing_says_so_and_can_be_applied_again(large, held, park,
                                                                         monkeypatch):
    from app import audit

    mine = park["mine"]
    client = client_for(large, "calvados")
    batch = batch_of(upload(client, places_file(mine["code"], mine["year"], 999)))
    run(large, held)
    before = snapshot(large)

    def broken(self):  # the rows are updated, then the history cannot be written
        raise OSError("disque plein")

    with monkeypatch.context() as patched:
        patched.setattr(audit.HistoryBatch, "write", broken)
        apply(client, batch)
        run(large, held)
    assert_same(large, before)
    page = text(client.get(f"/imports/{batch}/"))
    assert "L'application de l'import n'a pas abouti" in page
    assert "Rien n'a été écrit" in page and "disque" not in page and "OSError" not in page
    assert "Appliquer l" in page
    apply(client, batch)
    run(large, held)
    assert places_of(large, mine["code"], mine["year"]) == 999
    assert "Import appliqué" in client.get(f"/imports/{batch}/").get_data(as_text=True)


def test_a_failing_check_says_so_in_french_and_can_be_run_again(large, held, monkeypatch):
    from imports import checks

    client = client_for(large, "normandie")
    batch = batch_of(upload(client, SAMPLE))

    def broken(*args, **kwargs):
        raise MemoryError("plus de mémoire")

    with monkeypatch.context() as patched:
        patched.setattr(checks.Checker, "compare", broken)
        run(large, held)
    state = client.get(f"/imports/{batch}/etat.json").get_json()
    assert state["status"] == "echec" and state["finished"]
    assert "n'a pas abouti" in state["message"] and f"import n° {batch}" in state["message"]
    page = client.get(f"/imports/{batch}/").get_data(as_text=True)
    assert "La vérification a échoué" in page and "Relancer la vérification" in page
    assert "mémoire" not in page and "MemoryError" not in page and "Appliquer l" not in page
    token = Auth(client).csrf(f"/imports/{batch}/")
    assert client.post(f"/imports/{batch}/relancer", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/imports/{batch}/relancer", data={"csrf_token": token}).status_code == 302
    assert len(held) == 1  # the second « Relancer » found it running
    run(large, held)
    assert "Appliquer l" in client.get(f"/imports/{batch}/").get_data(as_text=True)


def test_a_silent_step_is_shown_failed_and_can_be_run_again(large, held, park):
    """A worker whose process died says nothing more: after the configured minutes, its check
    is shown failed (« Relancer »), its apply back to the preview (nothing was written)."""
    from app.extensions import db
    from models import ImportBatch
    from models.base import utcnow

    mine = park["mine"]
    client = client_for(large, "calvados")
    checking = batch_of(upload(client, SAMPLE))
    held.clear()  # its worker « died »
    applying = batch_of(upload(client, places_file(mine["code"], mine["year"], 55)))
    run(large, held)
    apply(client, applying)
    held.clear()
    assert "application en cours" in client.get(f"/imports/{applying}/").get_data(as_text=True)
    assert "vérification en cours" in client.get(f"/imports/{checking}/").get_data(as_text=True)
    with large.app_context():
        for batch in (checking, applying):
            db.session.get(ImportBatch, batch).updated_at = utcnow() - dt.timedelta(minutes=11)
        db.session.commit()
        db.session.remove()
    state = client.get(f"/imports/{checking}/etat.json").get_json()
    assert state["status"] == "echec" and state["finished"]
    assert "Relancer la vérification" in client.get(f"/imports/{checking}/").get_data(as_text=True)
    page = text(client.get(f"/imports/{applying}/"))
    assert "n'a pas abouti" in page and "Appliquer l" in page
    apply(client, applying)
    run(large, held)
    assert places_of(large, mine["code"], mine["year"]) == 55


# --- whose batch, which territory ----------------------------------------------------------------

def test_another_users_batch_is_not_found(large, held):
    owner = client_for(large, "calvados")
    batch = batch_of(upload(owner, SAMPLE))
    other = client_for(large, "normandie")
    token = Auth(other).csrf("/imports/")
    for url in (f"/imports/{batch}/", f"/imports/{batch}/etat.json"):
        assert other.get(url).status_code == 404, url
    for url in (f"/imports/{batch}/appliquer", f"/imports/{batch}/relancer"):
        assert other.post(url, data={"csrf_token": token}).status_code == 404, url
    assert client_for(large, None).get(f"/imports/{batch}/etat.json").status_code in (302, 401, 403)
    assert len(held) == 1
    run(large, held)
    assert "Lignes par feuille" in owner.get(f"/imports/{batch}/").get_data(as_text=True)


def test_the_background_keeps_the_agents_territory(large, park):
    """The worker has no request: it checks and writes with the Calvados agent's scope, passed
    to it — a structure of the Ain is refused, the agent's own is written."""
    ain, mine = park["ain"], park["mine"]
    client = client_for(large, "calvados")
    before = snapshot(large)
    data = workbook(Structures=[["Code DNA", "Nom", "Type"], [ain["code"], "RENOMMEE", ain["type"]]])
    outside = batch_of(upload(client, data))
    assert follow(client, outside)[-1]["status"] == "refuse"
    page = client.get(f"/imports/{outside}/").get_data(as_text=True)
    assert OUTSIDE in page and "Appliquer l" not in page and ain["nom"] not in page
    apply(client, outside)
    assert_same(large, before)
    own = batch_of(upload(client, places_file(mine["code"], mine["year"], 77)))
    assert follow(client, own)[-1]["status"] == "apercu"
    apply(client, own)
    assert follow(client, own)[-1]["status"] == "applique"
    assert places_of(large, mine["code"], mine["year"]) == 77


def test_a_territory_withdrawn_before_the_step_runs_stops_it(large, held, park):
    from app.extensions import db

    mine = park["mine"]
    client = client_for(large, "calvados")
    batch = batch_of(upload(client, places_file(mine["code"], mine["year"], 66)))
    run(large, held)
    apply(client, batch)
    with large.app_context():
        user = large.appbuilder.sm.find_user("calvados")
        user.departements = []  # territory withdrawn between the click and the worker
        db.session.commit()
        db.session.remove()
    before = snapshot(large)  # the withdrawal itself is in the history: taken after it
    run(large, held)
    assert_same(large, before)
    from models import ImportBatch

    with large.app_context():
        row = db.session.get(ImportBatch, batch)
        assert row.status == "apercu" and "périmètre" in row.error
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)
                                 .where(ImportBatch.status == "applique")) == 0
        db.session.remove()


def test_a_large_import_waits_its_turn_and_says_so(large):
    """The worker threads of a process are few: an import arriving while they are busy says it
    waits, then runs."""
    from app.extensions import db
    from imports import background

    with large.app_context():
        slots = background._SLOTS.get(db.engine.dialect.name, background._DEFAULT_SLOTS)
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        client = client_for(large, "normandie")
        batch = batch_of(upload(client, SAMPLE))
        deadline = time.monotonic() + 60
        while (state := client.get(f"/imports/{batch}/etat.json").get_json())["stage"] != "queued":
            assert time.monotonic() < deadline and not state["finished"], state
            time.sleep(0.05)
        assert state["message"].startswith("En attente : un autre import") and not state["finished"]
    finally:
        for _ in range(taken):
            slots.release()
    assert follow(client, batch)[-1]["status"] == "apercu"
