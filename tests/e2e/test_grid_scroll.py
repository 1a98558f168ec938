"""The national grid in a real browser (Debian chromium driven by Playwright): a national agent
opens the Structures grid and sees its first rows, shows 1,000 rows a page and scrolls down to
the last one; only the rows near the screen are in the page (virtual DOM), the top ones gone."""
from __future__ import annotations

import re

import pytest


@pytest.fixture()
def codes(live_server) -> list[str]:
    """The codes of the national grid's first 1,000 rows, in the grid's order (by code DNA)."""
    from sqlalchemy import select

    from app.extensions import db
    from models import Structure

    with live_server.app.app_context():
        found = list(db.session.scalars(select(Structure.code_dna).order_by(Structure.code_dna,
                                                                           Structure.id).limit(1000)))
        db.session.remove()
    return found


def code_cell(page, code: str, inside: str = "#bh-grid "):
    return page.locator(f'{inside}.tabulator-cell[tabulator-field="code_dna"]',
                        has_text=re.compile(f"^{re.escape(code)}$"))


def test_national_grid_draws_its_first_rows_then_scrolls_to_the_last_of_1000(open_page, codes):
    from playwright.sync_api import expect

    assert len(codes) == 1000, "the demo park has at least 1,000 structures"
    page = open_page("centrale")
    page.goto("/grille/structures/")
    expect(code_cell(page, codes[0])).to_be_in_viewport()
    expect(page.locator("#bh-grid-status")).to_contain_text("Page 1 / ")
    page.select_option("#bh-grid .tabulator-page-size", "1000")
    expect(page.locator("#bh-grid-status")).to_contain_text("Page 1 / ")
    page.wait_for_function("() => window.bhGrid.getDataCount() === 1000")
    assert page.locator("#bh-grid .tabulator-row").count() < 100   # not 1,000 rows drawn at once

    page.locator("#bh-grid .tabulator-tableholder").hover()
    for _ in range(3):   # a few turns of the wheel, far past the end
        page.mouse.wheel(0, 20000)
    expect(code_cell(page, codes[-1])).to_be_in_viewport()
    row = page.locator("#bh-grid .tabulator-row", has=code_cell(page, codes[-1], inside=""))
    expect(row.locator(".tabulator-cell").first).to_have_text("1000")   # its row number
    expect(code_cell(page, codes[0])).to_have_count(0)   # the top rows left the page
    assert page.problems == []
