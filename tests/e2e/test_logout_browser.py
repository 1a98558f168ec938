"""« Se déconnecter » in a real browser: the header's button (desktop, and its copy in the phone
menu) signs out by POST, and the cookies kept from before no longer open anything."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import login, screenshot

OPTIONS = {"locale": "fr-FR", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture()
def signed_in(browser, live_server):
    """A tab signed in by its own login (signing out must not end the other tests' session)."""
    context = browser.new_context(base_url=live_server.url, **OPTIONS)
    page = context.new_page()
    page.set_default_timeout(15000)
    login(page, "lecteur")
    yield page
    context.close()


def _replay(browser, live_server, state):
    context = browser.new_context(base_url=live_server.url, storage_state=state, **OPTIONS)
    page = context.new_page()
    page.goto("/structureview/list/")
    text = page.inner_text("main")
    context.close()
    return text


def test_the_header_button_signs_out_for_good(signed_in, browser, live_server):
    page = signed_in
    page.goto("/structureview/list/")
    kept = page.context.storage_state()  # what a thief would copy
    button = page.locator(".fr-header__tools-links").get_by_role("button", name="Se déconnecter")
    assert button.is_visible()
    screenshot(page, "entete-se-deconnecter")
    button.click()
    page.wait_for_load_state()
    assert page.url.endswith("/login/")
    assert "Vous êtes déconnecté de BHasile" in page.inner_text("main")
    assert "Connexion à BHasile" in _replay(browser, live_server, kept)


def test_on_a_phone_the_menu_copy_of_the_button_signs_out(signed_in):
    page = signed_in
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/")
    page.locator("header .fr-btn--menu").click()
    button = page.locator("#menu-modal").get_by_role("button", name="Se déconnecter")
    button.click()
    page.wait_for_load_state()
    assert page.url.endswith("/login/") and "Vous êtes déconnecté" in page.inner_text("main")


def test_an_old_logout_link_only_asks(signed_in):
    page = signed_in
    page.goto("/logout/")
    assert "Se déconnecter de BHasile ?" in page.inner_text("main")
    page.get_by_role("link", name="Rester connecté").click()
    page.goto("/structureview/list/")
    assert "/login/" not in page.url
    page.goto("/logout/")
    page.locator("main").get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()
    assert "Vous êtes déconnecté" in page.inner_text("main")
