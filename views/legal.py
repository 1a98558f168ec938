"""The pages every State service must publish, open without signing in: accessibility
statement (RGAA 4.1), legal notice and personal data. Linked from the footer of every page."""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import BaseView, expose

#: Date of the accessibility statement (update it with the statement's content).
STATEMENT_DATE = dt.date(2026, 11, 26)


class LegalView(BaseView):
    """Static pages of the footer; no permission: readable by anyone, signed in or not."""

    route_base = ""
    default_view = "accessibilite"

    @expose("/accessibilite")
    def accessibilite(self):
        return self.render_template("bhasile/legal/accessibilite.html",
                                    statement_date=STATEMENT_DATE)

    @expose("/mentions-legales")
    def mentions_legales(self):
        return self.render_template("bhasile/legal/mentions_legales.html")

    @expose("/donnees-personnelles")
    def donnees_personnelles(self):
        return self.render_template("bhasile/legal/donnees_personnelles.html")


MENU_ORDER = 200


def register(add, appbuilder) -> None:
    # No menu entry: the footer links to these pages.
    appbuilder.add_view_no_menu(LegalView())
