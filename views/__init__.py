"""Every page and API of BHasile, registered in one place (menus in French).

Each module of this package that defines ``register(add, appbuilder)`` is discovered and
called in ``MENU_ORDER`` order, so a new area adds its own module and nothing else.
``add(view, name, label, category, category_label, icon)`` adds a view with its menu entry
and records the menu's area for the roles (``app/roles.py``).
"""
from __future__ import annotations

import importlib
import pkgutil

from flask_appbuilder import AppBuilder


def _modules():
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            found.append(module)
    return sorted(found, key=lambda m: (getattr(m, "MENU_ORDER", 100), m.__name__))


def register_views(appbuilder: AppBuilder) -> None:
    """Add the views, their menus and their APIs."""
    areas: dict[str, str] = {}

    def add(view, name: str, label, category: str | None = None, category_label=None,
            icon: str = "") -> None:
        appbuilder.add_view(view, name, label=label, icon=icon, category=category,
                            category_label=category_label)
        areas[name] = view.bhasile_area
        if category:
            areas.setdefault(category, view.bhasile_area)

    for module in _modules():
        module.register(add, appbuilder)
    appbuilder.bhasile_menu_areas = areas
