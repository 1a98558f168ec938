"""An agent's day in a real browser (Debian chromium, issue 16): a French amount typed in a
fiche's Finances form is stored exactly and shown back in French with its € sign, on the
fiche's Finances section with a confirmation; an opérateur sees the granted dotation locked
with its reason, in the form and in the grid; switching the grid page to English keeps the
agent on it, with the grid's own buttons and pagination in English."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from models import BudgetAnnee
from tests.e2e.conftest import screenshot

SPACES = re.compile("[\u00a0\u202f]")


def _value(live_server, stmt):
    with live_server.app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.remove()
        return value


def rows_loaded(page) -> None:
    """The grid's first page of rows is drawn."""
    from playwright.sync_api import expect

    expect(page.locator('.tabulator-row .tabulator-cell[tabulator-field="code_dna"]').first).to_be_visible(timeout=60000)


def test_a_french_amount_saved_from_the_fiche_comes_back_in_french_on_its_section(open_page, live_server):
    from playwright.sync_api import expect

    sid = live_server.ids["structure"]
    page = open_page("calvados")
    page.goto(f"/structureview/show/{sid}")
    link = page.locator('#finances a[href*="/budgetanneeview/edit/"]').last
    bid = int(re.search(r"/edit/(\d+)", link.get_attribute("href")).group(1))
    link.click()
    page.wait_for_selector('input[name="dotation_demandee"]')
    field = page.locator('input[name="dotation_demandee"]')
    assert "." not in field.input_value()                      # pre-filled the French way
    field.fill("1 647 860,15")
    screenshot(page, "fiche-finances-formulaire-nombre-francais")
    with page.expect_navigation():
        page.locator("main form [type=submit]").first.click()
    assert page.url.endswith(f"/structureview/show/{sid}#finances")
    expect(page.locator(".fr-alert--success").first).to_contain_text("Modifications enregistrées")
    assert _value(live_server, select(BudgetAnnee.dotation_demandee).where(BudgetAnnee.id == bid)) \
        == Decimal("1647860.15")
    finances = SPACES.sub(" ", page.locator("#finances").inner_text())
    assert "1 647 860,15 €" in finances
    screenshot(page, "fiche-finances-montant-francais")
    page.goto(f"/budgetanneeview/edit/{bid}")
    assert SPACES.sub(" ", page.locator('input[name="dotation_demandee"]').input_value()) == "1 647 860,15"
    assert page.problems == []


def test_an_operateur_sees_the_granted_dotation_locked_with_its_reason(open_page, live_server):
    from playwright.sync_api import expect

    page = open_page("operateur")
    page.goto("/budgetanneeview/list/")
    page.locator('a[href*="/budgetanneeview/edit/"]').first.click()
    accordee = page.locator('input[name="dotation_accordee"]')
    expect(accordee).to_be_disabled()
    expect(page.locator("#dotation_accordee-group")).to_contain_text("Champ réservé à l'État")
    expect(page.locator('input[name="dotation_demandee"]')).to_be_enabled()
    year = page.locator('input[name="annee"]').input_value()
    page.goto(f"/grille/budgets/?annee={year}")
    rows_loaded(page)
    locked = page.locator('.tabulator-row .tabulator-cell[tabulator-field="dotation_accordee"]').first
    # the reason first, then the previous year's value (the N−1 columns moved into the tooltip)
    assert locked.get_attribute("title").startswith("Champ réservé à l'État")
    assert "bh-readonly" in locked.get_attribute("class")
    assert page.problems == []
    page.go_back()
    screenshot(page, "formulaire-operateur-champ-reserve")


def test_switching_to_english_on_a_grid_page_stays_there_in_english(open_page):
    from playwright.sync_api import expect

    page = open_page("calvados")
    page.goto("/grille/budgets/")
    rows_loaded(page)
    expect(page.locator("#bh-grid-fill")).to_contain_text("Recopier vers le bas")
    page.locator("button[aria-controls=langues]").click()
    with page.expect_navigation():
        page.locator('#langues a[hreflang="en"]').click()
    rows_loaded(page)
    assert "/grille/budgets/" in page.url
    expect(page.locator("#bh-grid-save")).to_contain_text("Save")
    expect(page.locator("#bh-grid-fill")).to_contain_text("Fill down")
    assert page.locator('.tabulator-page[data-page="next"]').get_attribute("title") == "Next page"
    assert page.problems == []
