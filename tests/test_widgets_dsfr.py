"""FAB's generic pages in the State's design system: an agent reads a list as a DSFR table
(caption, column headers, pagination), filters it with labelled rows that speak FAB's query
string, fixes a form whose errors sit next to their field, deletes a record after the
confirmation (CSRF kept, out of scope still 404), and meets no Bootstrap leftovers."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from models import Controle, Departement, Structure
from tests.conftest import client_for
from tests.views_util import read_form

LIST_PAGES = ["/controleview/list/", "/evaluationview/list/", "/eigview/list/", "/conventionview/list/",
              "/placesanneeview/list/", "/budgetanneeview/list/", "/contactview/list/",
              "/operateurview/list/", "/users/list/", "/roles/list/"]
FORM_PAGES = ["/controleview/add", "/evaluationview/add", "/eigview/add", "/conventionview/add",
              "/placesanneeview/add", "/budgetanneeview/add", "/contactview/add", "/users/add",
              "/roles/add"]
BOOTSTRAP = re.compile(r"^(btn|btn-.*|glyphicon.*|panel.*|well.*|table-striped|table-bordered|"
                       r"pull-(right|left)|fa|fa-.*|label-.*|input-group.*|form-control|"
                       r"dropdown.*|caret|nav-tabs|tab-pane|modal.*|sr-only)$")


class Page(HTMLParser):
    """The parts of a page these tests read: controls (with their form and labels), classes,
    table headers."""

    CONTROLS = ("input", "select", "textarea")

    def __init__(self, html: str):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.classes: set[str] = set()
        self.ths: list[dict] = []
        self.ids: dict[str, dict] = {}
        self._forms: list[dict] = []
        self._template = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.classes.update(a.get("class", "").split())
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "template":
            self._template += 1
        elif tag == "form":
            self._forms.append(a)
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        elif tag == "th":
            self.ths.append(a)
        elif tag in self.CONTROLS and a.get("type") not in ("hidden", "submit", "button"):
            form = self._forms[-1] if self._forms else {}
            self.controls.append({"tag": tag, "form": form.get("class", ""), "form_id": form.get("id", ""),
                                  "in_template": self._template > 0, **a})

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        elif tag == "form" and self._forms:
            self._forms.pop()

    def unlabelled(self, form_class: str) -> list[str]:
        return [c.get("id") or c.get("name") or c["tag"] for c in self.controls
                if form_class in c["form"].split() and not c["in_template"]
                and c.get("id") not in self.label_for and not c.get("aria-label")]


def _db(app, stmt):
    with app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.expunge_all()
        return value


@pytest.fixture(scope="module")
def admin(app):
    return client_for(app, "admin")


def test_a_list_is_a_dsfr_table_with_caption_headers_and_pagination(admin):
    body = admin.get("/controleview/list/?psize_ControleView=25").get_data(as_text=True)
    page = Page(body)
    assert {"fr-table", "fr-pagination"} <= page.classes
    assert re.search(r"<caption>\s*Contrôles\s*</caption>", body)
    assert page.ths and all(th.get("scope") == "col" for th in page.ths)
    assert 'role="navigation" class="fr-pagination" aria-label="Pagination"' in body
    assert re.search(r'<a class="fr-pagination__link" aria-current="page"[^>]*>1</a>', body)
    # sorted column: aria-sort, every sortable header names its action
    sorted_url = "/controleview/list/?_oc_ControleView=date&_od_ControleView=asc"
    sorted_body = admin.get(sorted_url).get_data(as_text=True)
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a class="bh-sort"[^>]*>Date', sorted_body)
    assert "trier par cette colonne" in sorted_body
    # rows per page: a labelled select; row links named after their row (not icon-only)
    assert 'for="bh-psize-ControleView-select"' in body and 'id="bh-psize-ControleView-select"' in body
    assert re.search(r'title="Modifier : [^"]+">Modifier : ', body)


@pytest.mark.parametrize("url", LIST_PAGES)
def test_every_list_page_renders_in_dsfr_without_bootstrap(admin, url):
    response = admin.get(url)
    assert response.status_code == 200, url
    page = Page(response.get_data(as_text=True))
    assert "fr-table" in page.classes
    assert sorted(c for c in page.classes if BOOTSTRAP.match(c)) == [], url
    assert page.unlabelled("bh-filters") == [], url
    assert page.unlabelled("bh-page-size") == [] and page.unlabelled("bh-actions") == [], url


@pytest.mark.parametrize("url", FORM_PAGES)
def test_every_field_of_the_add_forms_has_its_label(admin, url):
    response = admin.get(url)
    assert response.status_code == 200, url
    page = Page(response.get_data(as_text=True))
    fields = [c for c in page.controls if "bh-form" in c["form"].split()]
    assert fields, url
    assert page.unlabelled("bh-form") == [], url
    assert sorted(c for c in page.classes if BOOTSTRAP.match(c)) == [], url
    leftovers = ("my_select2", "appbuilder_date")
    assert not [c for c in fields if any(x in c.get("class", "") for x in leftovers)]


def test_edit_and_show_pages_have_labelled_fields_and_no_bootstrap(app, admin):
    cid = _db(app, select(func.min(Controle.id)))
    for url in (f"/controleview/edit/{cid}", f"/controleview/show/{cid}", "/users/show/1",
                "/users/edit/1", "/roles/edit/1", "/roles/show/1"):
        response = admin.get(url)
        assert response.status_code == 200, url
        page = Page(response.get_data(as_text=True))
        assert page.unlabelled("bh-form") == [], url
        assert sorted(c for c in page.classes if BOOTSTRAP.match(c)) == [], url
    edit = admin.get(f"/controleview/edit/{cid}").get_data(as_text=True)
    assert re.search(r'<input aria-required="true" class="fr-input" id="date" name="date" type="date" '
                     r'value="\d{4}-\d{2}-\d{2}">', edit)
    assert '<select aria-required="true" class="fr-select" id="structure" name="structure">' in edit
    tabs = admin.get("/conventionview/show/1").get_data(as_text=True)  # related views as tabs
    assert 'class="fr-tabs__list" role="tablist"' in tabs
    assert 'aria-controls="bh-tab-ConventionStructureView-panel"' in tabs


def test_an_invalid_value_comes_back_with_its_error_tied_to_the_field(fresh_app):
    client = client_for(fresh_app, "admin")
    cid = _db(fresh_app, select(func.min(Controle.id)))
    url = f"/controleview/edit/{cid}"
    data = read_form(client.get(url).get_data(as_text=True))
    before = _db(fresh_app, select(Controle.date).where(Controle.id == cid))
    body = client.post(url, data={**data, "date": "31 février"}).get_data(as_text=True)
    page = Page(body)
    date = page.ids["date"]
    assert date["aria-describedby"] == "date-error" and date.get("aria-invalid") == "true"
    assert page.ids["date-error"]["tag"] == "p" and page.ids["date-error"]["class"] == "fr-error-text"
    assert 'class="fr-input-group fr-input-group--error" id="date-group"' in body
    assert re.search(r'<li><a href="#date">Date : [^<]+</a></li>', body)  # the summary links to the field
    assert _db(fresh_app, select(Controle.date).where(Controle.id == cid)) == before


def _filter_query(body: str, column: str, operation: str, value: str) -> str:
    """The query string the filter form sends for one row (as widgets.js names the value)."""
    ops = json.loads(re.search(r"<script type=\"application/json\" data-bh-filter-ops>(.*?)</script>",
                               body, re.S).group(1))
    assert re.search(rf'<template data-bh-filter-value-template="{column}">', body)
    return f"_flt_{ops[column].index(operation)}_{column}={value}"


def test_the_filter_form_filters_the_rows(app, login):
    calvados = login("calvados")
    body = calvados.get("/controleview/list/").get_data(as_text=True)
    assert 'data-bh-filters' in body and "Ajouter un filtre" in body
    query = _filter_query(body, "type", "Égal à", "INOPINE")
    filtered = calvados.get("/controleview/list/?" + query).get_data(as_text=True)
    with app.app_context():
        from app.extensions import db

        expected = db.session.scalar(
            select(func.count(Controle.id)).join(Structure).join(Departement)
            .where(Departement.code == "14", Controle.type == "INOPINE"))
    assert expected
    assert re.search(rf"\b{expected} enregistrements?\b", filtered)
    # the active filter comes back as an editable, labelled row carrying FAB's name
    page = Page(filtered)
    row_values = [c for c in page.controls if c.get("name", "").startswith("_flt_") and not c["in_template"]]
    assert [c["name"] for c in row_values] == ["_flt_0_type"]
    assert page.unlabelled("bh-filters") == []
    assert re.search(r'<option selected value="INOPINE">', filtered)


def test_delete_through_the_confirmation_form_keeps_csrf_and_scope(fresh_app):
    def controle_in(code: str) -> int:
        return _db(fresh_app, select(func.min(Controle.id)).join(Structure).join(Departement)
                   .where(Departement.code == code))

    mine, elsewhere = controle_in("14"), controle_in("75")
    client = client_for(fresh_app, "calvados")
    client.environ_base.pop("HTTP_X_CSRFTOKEN", None)  # a browser form sends only its fields
    body = client.get("/controleview/list/?psize_ControleView=200").get_data(as_text=True)
    form = re.search(r'<form id="bh-rows-ControleView" method="post" action="" class="bh-rows-form" '
                     r'data-bh-confirm="[^"]+">\s*<input type="hidden" name="csrf_token" '
                     r'value="([^"]+)">', body)
    assert form, "no shared delete form with its CSRF token"
    assert re.search(rf'<button type="submit" form="bh-rows-ControleView" formaction="/controleview/delete/{mine}"',
                     body), "no delete button posting the shared form to the row's URL"
    assert f'formaction="/controleview/delete/{elsewhere}"' not in body
    assert 'id="bh-confirm" class="fr-modal"' in body
    assert client.post(f"/controleview/delete/{mine}", data={}).status_code in (302, 400)
    assert _db(fresh_app, select(Controle.id).where(Controle.id == mine)) == mine  # no token, no delete
    client.post(f"/controleview/delete/{mine}", data={"csrf_token": form.group(1)})
    assert _db(fresh_app, select(Controle.id).where(Controle.id == mine)) is None
    outside = client.post(f"/controleview/delete/{elsewhere}", data={"csrf_token": form.group(1)})
    assert outside.status_code == 404
    assert _db(fresh_app, select(Controle.id).where(Controle.id == elsewhere)) == elsewhere
