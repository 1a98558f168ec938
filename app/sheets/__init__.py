"""The BHasile workbook: one declarative description of each sheet (columns, key, kinds,
labels, aliases), driving export, import, templates and the grid."""
from .canonical import (APPLY_ORDER, BY_NAME, SCHEMA_VERSION, SHEETS, WIDE_FAMILY)
from .kinds import CellError, Kind
from .refs import Lookups
from .schema import Column, Sheet

__all__ = ["APPLY_ORDER", "BY_NAME", "CellError", "Column", "Kind", "Lookups", "SCHEMA_VERSION",
           "SHEETS", "Sheet", "WIDE_FAMILY"]
