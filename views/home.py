"""Home page: the user's territory at a glance."""
from __future__ import annotations

from flask import g
from flask_appbuilder import IndexView, expose
from sqlalchemy import func, select

from app.extensions import db
from app.scope import current_scope, structure_condition
from models import PlacesAnnee, Structure


class HomeView(IndexView):
    index_template = "bhasile/index.html"

    @expose("/")
    def index(self):
        figures = None
        if getattr(g, "user", None) is not None and g.user.is_authenticated:
            scope = current_scope()
            latest = (select(PlacesAnnee.structure_id, func.max(PlacesAnnee.annee).label("annee"))
                      .group_by(PlacesAnnee.structure_id).subquery())
            places = db.session.scalar(
                select(func.coalesce(func.sum(PlacesAnnee.places_autorisees), 0))
                .join(latest, (latest.c.structure_id == PlacesAnnee.structure_id)
                      & (latest.c.annee == PlacesAnnee.annee))
                .join(Structure, Structure.id == PlacesAnnee.structure_id)
                .where(structure_condition(scope)))
            by_type = db.session.execute(
                select(Structure.type, func.count()).where(structure_condition(scope))
                .group_by(Structure.type).order_by(Structure.type)).all()
            figures = {"structures": sum(n for _, n in by_type), "places": places,
                       "by_type": [(t.value, n) for t, n in by_type]}
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    figures=figures)
