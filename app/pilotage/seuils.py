"""Alert thresholds and ceilings of the indicators, per structure type, from the configuration.

Defaults are the reference reporting's: occupancy ≥ 85 %, |écart adresses| ≤ 10 % of places,
présences indues ceilings (% of places autorisées) BPI 3 %, déboutés 4 %, total 7 %, vacantes
3 %, indisponibles 3 %; coût journalier and taux d'encadrement within 15–25. The setting
``BHASILE_SEUILS`` (JSON in the environment) overrides them for every type (key ``"*"``) or
one type (``"CADA"``...), e.g. ``{"CADA": {"cout_min": 18, "cout_max": 22}}``.
"""
from __future__ import annotations

import json
import logging
import statistics
from typing import Any, Iterable, Optional

from flask import current_app, has_app_context

from models.enums import TypeStructure

DEFAULTS: dict[str, float] = {
    "occupation_min": 0.85,
    "ecart_max": 0.10,
    "plafond_bpi": 0.03,
    "plafond_deboutes": 0.04,
    "plafond_indues": 0.07,
    "plafond_vacantes": 0.03,
    "plafond_indisponibles": 0.03,
    "cout_min": 15.0,
    "cout_max": 25.0,
    "encadrement_min": 15.0,
    "encadrement_max": 25.0,
}
TYPES = [t.value for t in TypeStructure]
log = logging.getLogger(__name__)


def _parse(config: Any) -> dict:
    if isinstance(config, dict):
        return config
    if not config:
        return {}
    try:
        parsed = json.loads(config)
    except ValueError:
        log.warning("BHASILE_SEUILS n'est pas du JSON valide : seuils par défaut appliqués.")
        return {}
    return parsed if isinstance(parsed, dict) else {}


def seuils(type_: str, config: Any = None) -> dict[str, float]:
    """The thresholds that apply to structures of ``type_``."""
    if config is None:
        config = current_app.config.get("BHASILE_SEUILS") if has_app_context() else None
    config = _parse(config)
    merged = dict(DEFAULTS)
    for key in ("*", type_):
        for name, value in (config.get(key) or {}).items():
            if name in DEFAULTS:
                merged[name] = float(value)
    return merged


def quartiles(values: Iterable[Optional[float]]) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(Q1, median, Q3) by linear interpolation (like PostgreSQL's percentile_cont)."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None, None, None
    if len(data) == 1:
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, q2, q3


def rank(value: Optional[float], values: Iterable[Optional[float]]) -> Optional[int]:
    """1-based rank of ``value`` among ``values`` in increasing order (ties share a rank)."""
    if value is None:
        return None
    return 1 + sum(1 for v in values if v is not None and v < value)


def outlier(value: Optional[float], q1: Optional[float], q3: Optional[float]) -> bool:
    """Tukey's rule: outside [Q1 − 1.5 IQR, Q3 + 1.5 IQR]."""
    if value is None or q1 is None or q3 is None:
        return False
    spread = 1.5 * (q3 - q1)
    return value < q1 - spread or value > q3 + spread
