"""Keyboard-only use (RGAA 12.7, 10.7, 12.8): the skip link comes first and lands in the content,
every focused link, button and field shows where the focus is, the menus open with Enter or Space,
and an agent signs in, filters the structures, opens a fiche, edits it and saves without a mouse."""
from __future__ import annotations

import pytest

from tests import dbutil

ACTIVE = "document.activeElement"
#: What the focused element looks like: tag, text, and whether a focus mark is drawn.
#: The mark may be drawn on the element or on its ::before (the DSFR's enlarged links).
FOCUS = """() => {
  const e = document.activeElement;
  const marked = s => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                      || (!!s.boxShadow && s.boxShadow !== 'none');
  return {tag: e.tagName.toLowerCase(), type: e.type || '', id: e.id, cls: String(e.className),
          text: (e.innerText || e.value || e.name || '').trim().slice(0, 40),
          visible: [null, '::before', '::after'].some(p => marked(getComputedStyle(e, p)))};
}"""


def tab_to(page, selector: str, text: str = "", limit: int = 120, key: str = "Tab") -> None:
    """Press Tab until the focused element matches ``selector`` (and contains ``text``)."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("([sel, text]) => { const e = document.activeElement;"
                         " return !!e && e.matches(sel) && (e.innerText || e.value || '').includes(text); }",
                         [selector, text]):
            # let the page draw a frame, as between a person's key presses: the DSFR's menu checks
            # the focus after each Tab in the next frame, and an Enter in the same frame races it
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            return
    raise AssertionError(f"{selector} {text!r} n'est pas atteignable au clavier ({limit} × {key})")


@pytest.mark.parametrize("user, url", [(None, "/login/"), ("calvados", "/structureview/list/"),
                                       ("calvados", "/structureview/show/{structure}")])
def test_the_first_tab_reaches_the_skip_link_to_the_content(open_page, live_server, user, url):
    page = open_page(user)
    page.goto(url.format(**live_server.ids))
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS)
    assert first["tag"] == "a" and first["text"] == "Contenu", f"premier arrêt de tabulation : {first}"
    assert first["visible"], "le lien d'évitement focalisé n'est pas visible"
    page.keyboard.press("Enter")
    assert page.evaluate(f"{ACTIVE}.id") == "contenu" or page.evaluate(
        f"{ACTIVE}.closest('main#contenu') !== null"), "Entrée sur « Contenu » ne mène pas au contenu"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{ACTIVE}.closest('main#contenu') !== null"), \
        "la tabulation après le lien d'évitement ne reste pas dans le contenu"


@pytest.mark.parametrize("user, url", [(None, "/login/"), ("calvados", "/structureview/list/"),
                                       ("calvados", "/structureview/edit/{structure}")])
def test_every_focused_element_shows_its_focus(open_page, live_server, user, url):
    page = open_page(user)
    page.goto(url.format(**live_server.ids))
    seen, hidden = set(), []
    for _ in range(60):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus["tag"] == "body":
            break
        seen.add(focus["tag"])
        if not focus["visible"]:
            hidden.append(focus)
    assert not hidden, "éléments focalisés sans indicateur visible :\n" + "\n".join(map(str, hidden))
    assert {"a", "button", "input"} & seen, seen


def open_menu(page, name: str = "", key: str = "Enter"):
    """Tab to the main menu's ``name`` button, open it with ``key``: its sub-menu shows."""
    from playwright.sync_api import expect

    tab_to(page, ".fr-nav__btn", name)
    button = page.locator(".fr-nav__btn:focus")
    page.keyboard.press(key)
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.locator(f"#{button.get_attribute('aria-controls')}")
    expect(menu).to_be_visible()
    return button, menu


def test_a_menu_opens_with_enter_and_with_space(open_page):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto("/")
    button, menu = open_menu(page)
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(menu).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate(f"{ACTIVE}.closest('.fr-menu') !== null"), "Tab ne mène pas dans le menu ouvert"


def test_sign_in_filter_open_edit_and_save_with_the_keyboard_alone(open_page, live_server):
    page = open_page(None)
    page.goto("/login/")
    tab_to(page, "#username")
    page.keyboard.type("calvados")
    tab_to(page, "#password")
    page.keyboard.type(dbutil.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, "la connexion au clavier a échoué"
    # the structure list through the main menu
    open_menu(page, "Parc")
    tab_to(page, ".fr-menu a", "Structures")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/structureview/list/" in page.url
    # filter by a name, then open the fiche
    tab_to(page, "input#q")
    page.keyboard.type("CADA")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "q=CADA" in page.url
    tab_to(page, "main a[href*='/structureview/show/']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    fiche = page.url
    assert "/structureview/show/" in fiche
    # the Description section's form: change the commune, save with Enter
    tab_to(page, "main a[href*='/structureview/edit/']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "input#commune")
    page.keyboard.press("Control+A")
    page.keyboard.type("Falaise-au-clavier")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    success = page.locator(".fr-alert--success, .alert-success")
    assert success.count() >= 1 and success.first.is_visible(), "aucun message de réussite après l'enregistrement"
    page.goto(fiche)
    assert "Falaise-au-clavier" in page.locator("main").inner_text()
    assert page.problems == [], page.problems


def test_a_list_filter_is_added_and_applied_with_the_keyboard(open_page, live_server):
    page = open_page("calvados")
    page.goto("/operateurview/list/")
    if page.locator("main .fr-accordion__btn").count():  # the filters sit in a closed accordion
        tab_to(page, "main .fr-accordion__btn", "Filtres")
        page.keyboard.press("Enter")
    tab_to(page, "main [data-bh-filter-add]")
    page.keyboard.press("Enter")
    assert page.evaluate(f"{ACTIVE}.matches('[data-bh-filter-col]')"), "le nouveau filtre ne reçoit pas le focus"
    tab_to(page, "main [data-bh-filter-val]")
    page.keyboard.type(live_server.ids["operateur_nom"][:6])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "_flt_" in page.url
    assert live_server.ids["operateur_nom"] in page.locator("main").inner_text()


def test_a_delete_asks_first_and_escape_cancels_back_on_the_button(open_page):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto("/controleview/list/")
    rows = page.locator("main tbody tr").count()
    tab_to(page, "main form[data-bh-confirm] [type=submit]")
    button = page.evaluate(f"{ACTIVE}.title || {ACTIVE}.innerText")
    page.keyboard.press("Enter")
    dialog = page.locator("#bh-confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#bh-confirm :focus")).to_have_count(1)  # the focus went into the dialog
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate(f"{ACTIVE}.title || {ACTIVE}.innerText") == button, "le focus n'est pas revenu au bouton"
    assert "/controleview/list/" in page.url and page.locator("main tbody tr").count() == rows


def test_a_chart_data_table_opens_with_the_keyboard(open_page):
    page = open_page("calvados")
    page.goto("/tableaux/departement/14/")
    tab_to(page, "main details > summary")
    page.keyboard.press("Enter")
    assert page.evaluate(f"{ACTIVE}.parentElement.open"), "Entrée n'ouvre pas le tableau des données"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{ACTIVE}.closest('details[open]') !== null"), "Tab ne mène pas dans le tableau ouvert"


def test_on_a_phone_the_menu_opens_traps_the_focus_and_escape_closes_it(open_page):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/")
    tab_to(page, "header .fr-btn--menu")
    page.keyboard.press("Enter")
    modal = page.locator("#menu-modal")
    expect(modal).to_be_visible()
    expect(page.locator("#menu-modal :focus")).to_have_count(1)
    for _ in range(40):  # the focus stays inside the open menu
        page.keyboard.press("Tab")
        assert page.evaluate(f"{ACTIVE}.closest('#menu-modal') !== null"), "le focus sort du menu ouvert"
    open_menu(page, "Parc")
    page.keyboard.press("Escape")
    expect(modal).to_be_hidden()
    assert page.evaluate(f"{ACTIVE}.matches('.fr-btn--menu')"), "le focus ne revient pas au bouton Menu"
