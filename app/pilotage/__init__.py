"""Steering figures: aggregates and their roll-ups, indicators, thresholds, tables,
charts, pricing, completeness, the « à traiter » list and the map."""
