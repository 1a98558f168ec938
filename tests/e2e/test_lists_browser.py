"""FAB's lists in the browser (see tests/test_lists_polish.py for the server side): a row's
delete button posts the list's one shared form after the DSFR confirmation, and an active filter
on the structures, sent with its chosen option only, offers every structure again."""
from __future__ import annotations

from sqlalchemy import func, select

from models import Controle, Departement, Structure


def test_in_the_browser_a_row_deletes_after_the_confirmation_and_a_filter_keeps_its_choices(
        open_page, live_server):
    from playwright.sync_api import expect

    with live_server.app.app_context():
        from app.extensions import db

        victim = db.session.scalar(
            select(func.max(Controle.id)).join(Structure).join(Departement)
            .where(Departement.code == "14", Controle.id != live_server.ids["controle"]))
        db.session.remove()
    page = open_page("calvados")
    page.goto("/controleview/list/?psize_ControleView=200")
    button = page.locator(f'button[formaction="/controleview/delete/{victim}"]')
    button.click()
    dialog = page.locator("#bh-confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Supprimer définitivement cet enregistrement ?")
    with page.expect_navigation():
        dialog.locator("[data-bh-confirm-ok]").click()
    expect(page.locator(".fr-alert--success")).to_have_count(1)
    assert page.locator(f'button[formaction="/controleview/delete/{victim}"]').count() == 0
    # an active structure filter offers every structure again once the page has its script
    page.goto(f"/controleview/list/?_flt_0_structure={live_server.ids['structure']}")
    select_ = page.locator('select[name="_flt_0_structure"]')
    assert select_.locator("option").count() > 2
    assert select_.input_value() == str(live_server.ids["structure"])
    assert page.problems == [], page.problems
