"""The page layout in the State's design system (DSFR) and what RGAA asks of every page:
language, skip links, header with the service and the user, main navigation, footer with the
mandatory links, DSFR alerts for messages, public legal pages, scripts only from files."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import Auth, client_for

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
LEGAL = ("/accessibilite", "/mentions-legales", "/donnees-personnelles")


class Page(HTMLParser):
    """The elements of an HTML page (tag, attributes, text inside), enough to check a layout."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "",
                   "inside": [e["tag"] for e in self._open]
                   + [c for e in self._open for c in e["attrs"].get("class", "").split()]}
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                return

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, cls: str | None = None, **attrs) -> list[dict]:
        return [e for e in self.elements
                if (tag is None or e["tag"] == tag)
                and (cls is None or cls in e["attrs"].get("class", "").split())
                and all(e["attrs"].get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]

    def one(self, *args, **kwargs) -> dict:
        found = self.find(*args, **kwargs)
        assert len(found) == 1, (args, kwargs, found)
        return found[0]


def text(element: dict) -> str:
    return " ".join(element["text"].split())


def _page(response) -> Page:
    assert response.status_code == 200, response.status_code
    return Page(response.get_data(as_text=True))


def test_login_page_is_french_dsfr_without_bootstrap(app):
    response = app.test_client().get("/login/")
    html = response.get_data(as_text=True)
    page = _page(response)
    assert page.one("html")["attrs"]["lang"] == "fr"
    styles = [e["attrs"]["href"] for e in page.find("link", rel="stylesheet")]
    assert any(s.endswith("vendor/dsfr/dsfr.min.css") for s in styles)
    assert "bootstrap" not in html and "fontawesome" not in html and "select2" not in html
    assert page.one("meta", name="viewport")
    assert [text(h) for h in page.find("h1")] == ["Connexion à BHasile"]
    # the fields the browser tests fill, labelled, with their autocomplete purpose
    assert page.one("input", id="username")["attrs"]["autocomplete"] == "username"
    assert page.one("input", id="password")["attrs"]["autocomplete"] == "current-password"
    assert page.one("label", for_="username") and page.one("label", for_="password")
    assert [e for e in page.find("button", type="submit") if "form" in e["inside"]]


def test_skip_links_lead_to_the_content_the_menu_and_the_footer(app):
    page = _page(app.test_client().get("/login/"))
    links = [e for e in page.find("a") if "fr-skiplinks__list" in e["inside"]]
    assert [text(a) for a in links] == ["Contenu", "Menu", "Pied de page"]
    assert page.elements.index(links[0]) < page.elements.index(page.one("header"))
    for link in links:
        target = page.one(id=link["attrs"]["href"][1:])
        assert target["tag"] in ("main", "nav", "footer")
    assert page.one("main", id="contenu")["attrs"]["tabindex"] == "-1"


def test_footer_has_the_mandatory_links(app):
    page = _page(app.test_client().get("/login/"))
    footer = page.one("footer", cls="fr-footer")
    assert footer["attrs"]["role"] == "contentinfo"
    links = {text(a): a["attrs"]["href"] for a in page.find("a", cls="fr-footer__bottom-link")}
    assert links == {"Accessibilité : non conforme": "/accessibilite",
                     "Mentions légales": "/mentions-legales",
                     "Données personnelles": "/donnees-personnelles"}
    sites = [a["attrs"]["href"] for a in page.find("a", cls="fr-footer__content-link")]
    assert "https://legifrance.gouv.fr" in sites and "https://data.gouv.fr" in sites
    assert page.find("p", cls="fr-logo")  # the République française block


def test_signed_in_page_has_header_navigation_and_user(login):
    page = _page(login("calvados").get("/structureview/list/"))
    header = page.one("header", cls="fr-header")
    assert header["attrs"]["role"] == "banner"
    assert text(page.one("p", cls="fr-header__service-title")) == "BHasile"
    assert not [h for h in page.find("h1") if "header" in h["inside"]]  # the page's h1 only
    nav = page.one("nav", id="navigation-principale")
    assert nav["attrs"]["aria-label"] == "Menu principal"
    entries = {a["attrs"]["href"]: a for a in page.find("a", cls="fr-nav__link")
               if "fr-nav__list" in a["inside"]}
    assert text(entries["/structureview/list/"]) == "Structures"
    assert entries["/structureview/list/"]["attrs"]["aria-current"] == "page"  # where we are
    assert text(entries["/"]) == "Accueil" and "aria-current" not in entries["/"]["attrs"]
    assert "/grille/structures/" in entries  # "Structures" again, under "Saisie en grille"
    categories = [text(b) for b in page.find("button", cls="fr-nav__btn")]
    assert "Parc" in categories
    parc = [b for b in page.find("button", cls="fr-nav__btn") if text(b) == "Parc"][0]
    assert parc["attrs"]["aria-current"] == "true"
    assert page.one(id=parc["attrs"]["aria-controls"])["attrs"]["class"] == "fr-collapse fr-menu"
    tools = " ".join(text(a) for a in page.find("a") if "fr-header__tools-links" in a["inside"])
    assert "Calvados" in tools or "calvados" in tools.lower()
    assert "Se connecter" not in tools
    # « Se déconnecter » is a POST with the CSRF token, not a link a third party could load
    assert not page.find("a", href="/logout/")
    form = page.one("form", action="/logout/")
    assert form["attrs"]["method"] == "post" and "fr-header__tools-links" in form["inside"]
    assert text(form) == "Se déconnecter"
    assert [i for i in page.find("input", name="csrf_token") if "form" in i["inside"]]


def test_anonymous_header_offers_to_sign_in(app):
    page = _page(app.test_client().get("/accessibilite"))
    tools = [text(a) for a in page.find("a") if "fr-header__tools-links" in a["inside"]]
    assert "Se connecter" in tools and "Se déconnecter" not in tools


@pytest.mark.parametrize("category, kind", [("danger", "error"), ("warning", "warning"),
                                            ("success", "success"), ("info", "info")])
def test_flash_message_is_a_dsfr_alert(login, category, kind):
    client = login("lecteur")
    with client.session_transaction() as session:
        session["_flashes"] = [(category, "Message d'essai")]
    page = _page(client.get("/structureview/list/"))
    alert = page.one("div", cls="fr-alert")
    assert f"fr-alert--{kind}" in alert["attrs"]["class"] and "Message d'essai" in text(alert)
    assert "main" in alert["inside"]


def test_wrong_password_is_said_inside_the_login_form(app):
    page = _page(Auth(app.test_client()).login("calvados", "mauvais-mot-de-passe"))
    alert = page.one("div", cls="fr-alert")
    assert "form" in alert["inside"] and "fr-alert--error" in alert["attrs"]["class"]


def test_field_error_is_tied_to_its_field(app):
    client = app.test_client()
    token = Auth(client).csrf()
    page = _page(client.post("/login/", data={"username": "", "password": "x",
                                               "csrf_token": token}))
    field = page.one("input", id="username")
    messages = page.one(id=field["attrs"]["aria-describedby"])
    assert text(messages) and "fr-input--error" in field["attrs"]["class"]


@pytest.mark.parametrize("path", LEGAL)
def test_legal_pages_are_public_with_one_h1(app, path):
    page = _page(app.test_client().get(path))
    assert len(page.find("h1")) == 1
    assert page.one("html")["attrs"]["lang"] == "fr"
    assert text(page.one("title")).endswith("— BHasile")


def test_accessibility_statement_says_non_conforme_and_how_to_appeal(app):
    html = app.test_client().get("/accessibilite").get_data(as_text=True)
    assert "non conforme" in html and "Aucun audit" in html
    assert "Défenseur des droits" in html


@pytest.mark.parametrize("user, path", [(None, "/login/"), (None, "/"), ("admin", "/"),
                                        ("admin", "/structureview/list/"),
                                        ("admin", "/accessibilite"),
                                        ("admin", "/page-qui-n-existe-pas/")])
def test_every_script_has_the_nonce_and_no_inline_code(app, user, path):
    response = client_for(app, user).get(path)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    page = Page(response.get_data(as_text=True))
    scripts = page.find("script")
    assert scripts
    for script in scripts:
        assert script["attrs"].get("nonce") == nonce, script
        assert script["attrs"].get("src") or script["attrs"].get("type") == "application/json", script
    assert not any(name.startswith("on") for e in page.elements for name in e["attrs"])


def test_error_page_keeps_the_layout(login):
    response = login("lecteur").get("/page-qui-n-existe-pas/")
    assert response.status_code == 404
    page = Page(response.get_data(as_text=True))
    assert page.one("header", cls="fr-header") and page.one("footer", cls="fr-footer")
    assert [text(h) for h in page.find("h1")] == ["Page introuvable"]


def test_english_locale_gives_lang_en(app):
    client = app.test_client()
    client.get("/lang/en")
    page = _page(client.get("/login/"))
    assert page.one("html")["attrs"]["lang"] == "en"
    english = page.one("a", hreflang="en")
    assert english["attrs"]["aria-current"] == "true" and english["attrs"]["lang"] == "en"


def test_layout_styles_keep_the_focus_visible():
    from pathlib import Path

    css = (Path(__file__).parents[1] / "app/static/bhasile/bhasile.css").read_text()
    assert not re.search(r"outline\s*:\s*(none|0)\b", css)


@pytest.mark.parametrize("path", ["/", "/structureview/list/", "/accessibilite"])
def test_layout_ids_are_unique(login, path):
    page = _page(login("calvados").get(path))
    ids = [e["attrs"]["id"] for e in page.elements if e["attrs"].get("id")]
    for layout_id in ("contenu", "navigation-principale", "pied-de-page", "menu-modal",
                      "menu-bouton", "langues"):
        assert ids.count(layout_id) == 1, layout_id
    menus = [i for i in ids if re.fullmatch(r"menu-\d+", i)]
    assert menus and len(menus) == len(set(menus))


def test_english_page_keeps_the_layout(login):
    client = login("calvados")
    client.get("/lang/en")
    page = _page(client.get("/structureview/list/"))
    assert page.one("html")["attrs"]["lang"] == "en"
    assert page.one("nav", id="navigation-principale") and page.one("footer", cls="fr-footer")
