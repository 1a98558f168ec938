"""Our pages speak the State's design system (DSFR) and keep the RGAA basics a test can see:
no Bootstrap class left, one h1 and no skipped heading level, every table captioned with its
headers scoped, every form control labelled, every icon-only button named."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from models import BhasileUser, Departement, Structure
from tests.conftest import SAMPLES, Auth, client_for
from tests.test_dashboards import park  # noqa: F401  (the demo park with its aggregates built)

BOOTSTRAP = re.compile(r"\bbtn\b|btn-|panel|glyphicon|label-|form-control|col-(xs|sm|md|lg)-|\bwell\b")
CONTROLS = {"input", "select", "textarea"}
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class Page(HTMLParser):
    """What the checks need from a page: classes, headings, tables, controls, labels, buttons."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.classes: list[str] = []
        self.headings: list[int] = []
        self.tables: list[dict] = []
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.buttons: list[dict] = []
        self._labels = 0  # depth of open <label> elements
        self._table: list[dict] = []
        self._button: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if a.get("class"):
            self.classes.append(a["class"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "table":
            self._table.append({"caption": False, "th": 0, "th_scoped": 0})
        elif tag == "caption" and self._table:
            self._table[-1]["caption"] = True
        elif tag == "th" and self._table:
            self._table[-1]["th"] += 1
            self._table[-1]["th_scoped"] += bool(a.get("scope") or a.get("id"))
        if tag == "label":
            self._labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in CONTROLS and a.get("type", "") not in UNLABELLED_TYPES:
            self.controls.append({**a, "_tag": tag, "_wrapped": self._labels > 0})
        if tag == "button" or (tag == "a" and "fr-btn" in a.get("class", "")):
            self._button = {**a, "_text": ""}

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
            self.tables.append(self._table.pop())
        if tag == "label":
            self._labels -= 1
        if tag in ("button", "a") and self._button is not None:
            self.buttons.append(self._button)
            self._button = None

    def handle_data(self, data):
        if self._button is not None:
            self._button["_text"] += data


def check_dsfr(html: str) -> Page:
    """Assert the DSFR / RGAA basics on the content of one page (its <main>) and return it parsed."""
    main = re.search(r"<main\b.*?</main>", html, flags=re.S)
    page = Page(main.group(0) if main else html)
    leftovers = [token for c in page.classes for token in c.split()  # DSFR (fr-) and ours (bh-) are fine
                 if not token.startswith(("fr-", "bh-")) and BOOTSTRAP.search(token)]
    assert not leftovers, leftovers
    assert page.headings.count(1) == 1, page.headings
    for before, after in zip(page.headings, page.headings[1:]):
        assert after <= before + 1, f"h{before} puis h{after} : {page.headings}"
    for table in page.tables:
        assert table["caption"], table
        assert table["th"] and table["th"] == table["th_scoped"], table
    for control in page.controls:
        named = (control.get("id") in page.label_for or control["_wrapped"]
                 or control.get("aria-label") or control.get("aria-labelledby") or control.get("title"))
        assert named, control
    for button in page.buttons:
        assert button["_text"].strip() or button.get("aria-label") or button.get("title"), button
    return page


def _first(app, stmt):
    with app.app_context():
        from app.extensions import db

        return db.session.scalar(stmt)


@pytest.fixture()
def calvados(app):
    return client_for(app, "calvados")


def _calvados_structure(app) -> int:
    dep = select(Departement.id).where(Departement.code == "14").scalar_subquery()
    return _first(app, select(Structure.id).where(Structure.departement_id == dep).order_by(Structure.id))


def test_structure_list(app):
    central = client_for(app, "centrale")
    page = check_dsfr(central.get("/structureview/list/?psize=20&page=2").get_data(as_text=True))
    assert any("fr-pagination" in c for c in page.classes)
    assert any("fr-table" in c for c in page.classes)


def test_fiche(app, calvados):
    sid = _calvados_structure(app)
    response = calvados.get(f"/structureview/show/{sid}")
    assert response.status_code == 200
    page = check_dsfr(response.get_data(as_text=True))
    assert any("fr-breadcrumb" in c for c in page.classes)
    assert page.headings.count(2) >= 8  # the eight sections


def test_fiche_of_a_reader_without_buttons(app):
    sid = _calvados_structure(app)
    check_dsfr(client_for(app, "lecteur").get(f"/structureview/show/{sid}").get_data(as_text=True))


@pytest.mark.parametrize("url", ["/grille/activite/", "/grille/structures/", "/grille/budgets/",
                                 "/imports/", "/campagnes/", "/documents/list/"])
def test_agent_pages(app, calvados, url):
    response = calvados.get(url)
    assert response.status_code == 200, url
    check_dsfr(response.get_data(as_text=True))


def test_dashboards_map_and_tarification(park):  # noqa: F811
    central, calvados = client_for(park, "centrale"), client_for(park, "calvados")
    sid = _calvados_structure(park)
    op = _first(park, select(Structure.operateur_id).where(Structure.id == sid))
    for client, url in [(central, "/tableaux/national/FR/"), (calvados, "/tableaux/departement/14/"),
                        (calvados, "/tableaux/national/FR/"), (calvados, "/carte/"), (calvados, "/a-traiter/"),
                        (central, "/tableaux/operateurs/"), (central, "/tarification/"),
                        (calvados, "/tableaux/structures/?niveau=departement&code=14&alerte=occupation"),
                        (central, "/tableaux/structures/?niveau=national&code=FR&page=2"),
                        (calvados, f"/tarification/structure/{sid}"), (central, f"/tarification/operateur/{op}")]:
        response = client.get(url)
        assert response.status_code == 200, url
        page = check_dsfr(response.get_data(as_text=True))
        if url.startswith("/tableaux/n") or url.startswith("/tableaux/d"):
            assert any("fr-tile" in c for c in page.classes), url  # KPIs as DSFR tiles


def test_central_pages(app):
    central = client_for(app, "centrale")
    for url in ("/tableaux/national/FR/", "/campagnes/ouvrir", "/journal/list/"):
        response = central.get(url)
        assert response.status_code == 200, url
        check_dsfr(response.get_data(as_text=True))
    admin = client_for(app, "admin")
    check_dsfr(admin.get("/taches/").get_data(as_text=True))


def test_operateur_pages(app):
    client = client_for(app, "operateur")
    op = _first(app, select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    for url in (f"/operateurview/show/{op}", "/campagnes/saisie/", f"/documents/operateur/{op}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        check_dsfr(response.get_data(as_text=True))


def test_documents_of_a_structure(app, calvados):
    sid = _calvados_structure(app)
    for url in (f"/documents/structure/{sid}/",):
        response = calvados.get(url)
        assert response.status_code == 200, url
        check_dsfr(response.get_data(as_text=True))


def test_import_preview_and_errors(fresh_app):
    agent = client_for(fresh_app, "normandie")
    for sample in ("classeur-exemple.xlsx", "erreurs-exemple.xlsx"):
        token = Auth(agent).csrf("/imports/")
        response = agent.post("/imports/envoyer", data={
            "csrf_token": token, "annee": "", "fichier": (io.BytesIO((SAMPLES / sample).read_bytes()), sample)},
            content_type="multipart/form-data")
        batch = re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1)
        page = check_dsfr(agent.get(f"/imports/{batch}/").get_data(as_text=True))
        assert any("fr-breadcrumb" in c for c in page.classes)
    check_dsfr(agent.get("/imports/").get_data(as_text=True))


def test_campaign_pages(fresh_app):
    from tests.test_campagnes import open_campaign, task_ids

    agent = client_for(fresh_app, "calvados")
    dep = _first(fresh_app, select(Departement.id).where(Departement.code == "14"))
    campagne = open_campaign(agent, dep)
    for url in (f"/campagnes/{campagne}/", f"/campagnes/tache/{next(iter(task_ids(fresh_app, campagne).values()))}/"):
        response = agent.get(url)
        assert response.status_code == 200, url
        page = check_dsfr(response.get_data(as_text=True))
        assert any("fr-breadcrumb" in c for c in page.classes)
    check_dsfr(client_for(fresh_app, "operateur").get("/campagnes/saisie/").get_data(as_text=True))


def test_checker_catches_what_it_should():
    with pytest.raises(AssertionError):
        check_dsfr('<h1>a</h1><a class="btn btn-default" href="#">x</a>')
    with pytest.raises(AssertionError):
        check_dsfr("<h1>a</h1><h3>b</h3>")
    with pytest.raises(AssertionError):
        check_dsfr("<h1>a</h1><table><tr><th>x</th></tr></table>")
    with pytest.raises(AssertionError):
        check_dsfr('<h1>a</h1><input id="x" name="x">')
    with pytest.raises(AssertionError):
        check_dsfr('<h1>a</h1><button class="fr-btn fr-icon-edit-line"></button>')
    check_dsfr('<h1>a</h1><h2>b</h2><table><caption>c</caption><tr><th scope="col">x</th></tr></table>'
               '<label for="x">X</label><input id="x">')


def test_convention_and_home(app):
    from models import Convention

    central = client_for(app, "centrale")
    cid = _first(app, select(Convention.id).order_by(Convention.id))
    page = check_dsfr(central.get(f"/conventionview/show/{cid}").get_data(as_text=True))
    assert any("fr-tabs" in c for c in page.classes)
    check_dsfr(central.get("/").get_data(as_text=True))
    check_dsfr(client_for(app, None).get("/").get_data(as_text=True))
