"""Numbers as French agents type and read them, in every form and list.

Forms read numbers with the one parser the grid and the import use
(``app.sheets.kinds.parse_number``): ``1 647 860,15``, ``1647860,15``, ``1647860.15`` and the
spaces Excel and Babel put between thousands (U+00A0, U+202F) are all the same number. A form
is pre-filled as the agent would write it (``1 647 860,15`` in French). Lists and show pages
print amounts with their € sign (``money_formatters``).

FAB builds its forms from the models with WTForms' ``DecimalField``, ``IntegerField`` and
``FloatField``; ``french_numbers`` swaps them for the fields below in a form class, keeping
their label, validators and order.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from wtforms import DecimalField, FloatField, IntegerField
from wtforms.fields.core import UnboundField

from app.jinja import fr_money
from app.sheets.kinds import CellError, parse_number
from models.base import Money

#: The largest integer a form writes (the databases' INTEGER), the largest amount (14 digits).
INTEGER_MAX = 2**31 - 1
DECIMAL_MAX = Decimal(10) ** 12


def _grouped() -> bool:
    """Thousands are grouped in an input only when the locale groups with a space: « 1 650 » is
    unambiguous, an English « 1,650 » would read back as 1,65 in French."""
    symbols = get_locale().number_symbols
    symbols = symbols.get("latn", symbols) if hasattr(symbols, "get") else symbols
    return not symbols["group"].strip()


def input_text(value: Any, places: Optional[int] = None) -> str:
    """A number as a form shows it to be edited: ``1 647 860,15`` in French (``places``
    decimals; as many as the value has when ``None``)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if places is None:
        places = max(-number.as_tuple().exponent, 0) if number.is_finite() else 0
    pattern = ("#,##0" if _grouped() else "0") + ("." + "0" * places if places else "")
    return format_decimal(number, format=pattern)


def read_number(text: str) -> Decimal:
    """What an agent typed, as a Decimal; ``ValueError`` with a French message otherwise."""
    try:
        return parse_number(text)
    except CellError:
        raise ValueError(_("« %(value)s » n'est pas un nombre (exemple : 1 647 860,15).",
                           value=text)) from None


class _FrenchNumber:
    """What the three fields share: French text in, French text out."""

    def _typed(self, valuelist: list) -> Optional[Decimal]:
        text = str(valuelist[0]).strip() if valuelist and valuelist[0] is not None else ""
        return read_number(text) if text else None

    def _value(self) -> str:
        if self.raw_data:   # what the agent typed, shown again beside its error
            return self.raw_data[0]
        return self._shown(self.data)


class FrenchDecimalField(_FrenchNumber, DecimalField):
    """A decimal (amounts, ETP, ratios) typed and shown the French way."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        number = self._typed(valuelist)
        if number is None:
            return
        if abs(number) >= DECIMAL_MAX:
            raise ValueError(_("« %(value)s » : nombre trop grand.", value=valuelist[0]))
        self.data = number.quantize(Decimal(1).scaleb(-self.places)) if self.places else number

    def _shown(self, value: Any) -> str:
        return input_text(value, self.places)


class FrenchIntegerField(_FrenchNumber, IntegerField):
    """An integer (places, counts, years) typed the French way; shown without grouping, so a
    year stays « 2025 »."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        number = self._typed(valuelist)
        if number is None:
            return
        if number != number.to_integral_value():
            raise ValueError(_("« %(value)s » : nombre entier attendu.", value=valuelist[0]))
        if abs(number) > INTEGER_MAX:
            raise ValueError(_("« %(value)s » : nombre trop grand.", value=valuelist[0]))
        self.data = int(number)

    def _shown(self, value: Any) -> str:
        return "" if value is None else str(value)


class FrenchFloatField(_FrenchNumber, FloatField):
    """A float (latitude, longitude) typed and shown with a decimal comma."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        number = self._typed(valuelist)
        self.data = None if number is None else float(number)

    def _shown(self, value: Any) -> str:
        if value is None:
            return ""
        return format_decimal(value, format="0.#######")


_FRENCH = {DecimalField: FrenchDecimalField, IntegerField: FrenchIntegerField,
           FloatField: FrenchFloatField}


def french_numbers(form_cls: type) -> type:
    """``form_cls`` with its number fields read and shown the French way (same labels,
    validators and order)."""
    swapped = {}
    for name in dir(form_cls):
        unbound = getattr(form_cls, name, None)
        if isinstance(unbound, UnboundField) and unbound.field_class in _FRENCH:
            field = UnboundField(_FRENCH[unbound.field_class], *unbound.args, **unbound.kwargs)
            field.creation_counter = unbound.creation_counter
            swapped[name] = field
    if not swapped:
        return form_cls
    return type(form_cls.__name__, (form_cls,), swapped)


def money_formatters(datamodel: Any, columns) -> dict:
    """A formatter per amount column among ``columns`` (``models.base.Money``): lists and show
    pages print « 1 647 860,15 € »."""
    table = datamodel.obj.__table__
    return {col: _money for col in columns
            if col in table.c and table.c[col].type is Money}


def _money(value: Any) -> str:
    return "" if value is None else fr_money(value)
