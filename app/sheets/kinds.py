"""Cell kinds: one class per type of value, each with a ``clean`` (file → value) and ``render``
(value → cell) pair, in the manner of django-import-export's widgets.

``clean`` accepts what agents really type (French numbers, ``jj/mm/aa`` dates, ``Oui``/``X``)
and raises ``CellError`` with a French message; ``render`` gives what the exporter writes.
A kind also tells the grid which editor to use and, for enumerations, the choices.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from .normalize import norm

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]+)?$")
_MONTH = re.compile(r"^(\d{1,2})[/.\-](\d{4})$")
_MONTH_ISO = re.compile(r"^(\d{4})-(\d{1,2})$")
MONTHS = {"janvier": 1, "janv": 1, "fevrier": 2, "fev": 2, "fevr": 2, "mars": 3, "avril": 4,
          "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
          "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12,
          "dec": 12}
TRUE_WORDS = {"oui", "o", "x", "vrai", "1", "yes", "y", "true"}
FALSE_WORDS = {"non", "n", "faux", "0", "no", "false"}


class CellError(ValueError):
    """A value that cannot be read; the message is one French sentence for the agent."""


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def parse_number(raw: Any) -> Decimal:
    """A number typed as a number or as French text (``1 234,50 €``, ``12 %``)."""
    if isinstance(raw, bool):
        raise CellError("nombre attendu")
    if isinstance(raw, (int, float)):
        return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    if isinstance(raw, Decimal):
        return raw
    text = _SPACES.sub("", str(raw)).replace("€", "").replace("EUR", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    else:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError(f"« {raw} » n'est pas un nombre") from None
    if not value.is_finite():
        raise CellError(f"« {raw} » n'est pas un nombre")
    return value / 100 if percent else value


def parse_date(raw: Any) -> dt.date:
    """A date as an Excel date or text ``jj/mm/aaaa``, ``jj/mm/aa``, ``jj.mm.aaaa``, ``aaaa-mm-jj``."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 1 <= raw < 2958466:
            return (EXCEL_EPOCH + dt.timedelta(days=int(raw))).date()
        raise CellError(f"« {_text(raw)} » n'est pas une date")
    text = str(raw).strip()
    try:
        match = _DATE_DMY.match(text)
        if match:
            day, month, year = (int(g) for g in match.groups())
            if len(match.group(3)) == 2:
                year += 2000 if year < 70 else 1900
            return dt.date(year, month, day)
        match = _DATE_ISO.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    except ValueError:
        pass
    raise CellError(f"« {text} » n'est pas une date (jj/mm/aaaa)")


class Kind:
    """The type of a column: how a cell is read and written."""

    editor = "text"
    excel = "string"          # string, number, date or bool: how the exporter writes it
    num_format: Optional[str] = None
    width = 14

    def clean(self, raw: Any, ctx: Any = None) -> Any:
        raise NotImplementedError

    def render(self, value: Any) -> Any:
        return value

    def choices(self, ctx: Any = None) -> Optional[list[str]]:
        return None

    def same(self, old: Any, new: Any) -> bool:
        return old == new


class Text(Kind):
    width = 30

    def __init__(self, max_len: int = 300, width: int = 30):
        self.max_len, self.width = max_len, width

    def clean(self, raw, ctx=None) -> str:
        text = _text(raw)
        if len(text) > self.max_len:
            raise CellError(f"texte trop long ({len(text)} caractères, {self.max_len} au plus)")
        return text

    def same(self, old, new) -> bool:
        """Surrounding spaces are not a change (a cell is read trimmed)."""
        return (old or "").strip() == (new or "").strip()


class Code(Text):
    """An identifier kept as text: trimmed, upper-cased, leading zeros restored when numeric."""

    width = 14

    def __init__(self, max_len: int = 10, pad: int = 0, digits: bool = False):
        super().__init__(max_len, 14)
        self.pad, self.digits = pad, digits

    def clean(self, raw, ctx=None) -> str:
        text = _SPACES.sub("", _text(raw)).upper() if self.digits else _text(raw).upper()
        if self.pad and text.isdigit():
            text = text.zfill(self.pad)
        if self.digits and not text.isdigit():
            raise CellError(f"« {text} » : chiffres attendus")
        if len(text) > self.max_len:
            raise CellError(f"« {text} » : {self.max_len} caractères au plus")
        return text


class Integer(Kind):
    editor, excel, num_format, width = "integer", "number", "0", 12

    def __init__(self, minimum: Optional[int] = 0):
        self.minimum = minimum

    def clean(self, raw, ctx=None) -> int:
        value = parse_number(raw)
        if value != value.to_integral_value():
            raise CellError(f"« {_text(raw)} » : nombre entier attendu")
        if self.minimum is not None and value < self.minimum:
            raise CellError(f"{_text(raw)} : la valeur doit être positive ou nulle")
        return int(value)


class Number(Kind):
    """A decimal stored exactly (money, ETP, ratios), rounded to ``places`` decimals."""

    editor, excel, width = "number", "number", 14

    def __init__(self, places: int = 2, minimum: Optional[int] = None, money: bool = False):
        self.places, self.minimum = places, minimum
        self.quantum = Decimal(1).scaleb(-places)
        self.num_format = "#,##0.00" if money else "0.00"
        self.width = 16 if money else 12

    def clean(self, raw, ctx=None) -> Decimal:
        value = parse_number(raw).quantize(self.quantum)
        if abs(value) >= Decimal(10) ** 12:
            raise CellError(f"« {_text(raw)} » : nombre trop grand")
        if self.minimum is not None and value < self.minimum:
            raise CellError(f"{_text(raw)} : la valeur doit être positive ou nulle")
        return value

    def render(self, value):
        return None if value is None else float(value)

    def same(self, old, new) -> bool:
        if old is None or new is None:
            return old is new
        return Decimal(old).quantize(self.quantum) == Decimal(new).quantize(self.quantum)


class Coordinate(Kind):
    """Latitude or longitude in degrees (7 decimals: a centimetre)."""

    editor, excel, num_format, width = "number", "number", "0.0000000", 12

    def __init__(self, limit: float):
        self.limit = limit

    def clean(self, raw, ctx=None) -> float:
        value = round(float(parse_number(raw)), 7)
        if abs(value) > self.limit:
            raise CellError(f"{value} : hors des limites (±{self.limit:g})")
        return value

    def same(self, old, new) -> bool:
        if old is None or new is None:
            return old is new
        return round(old, 7) == round(new, 7)


class Date(Kind):
    editor, excel, num_format, width = "date", "date", "dd/mm/yyyy", 12

    def clean(self, raw, ctx=None) -> dt.date:
        value = parse_date(raw)
        if not 1900 <= value.year <= 2100:
            raise CellError(f"« {value:%d/%m/%Y} » : année hors de 1900–2100")
        return value


class Month(Kind):
    """A month, stored as its first day; read from a date, ``mm/aaaa`` or ``janvier 2024``."""

    editor, excel, num_format, width = "month", "date", "mm/yyyy", 10

    def clean(self, raw, ctx=None) -> dt.date:
        if isinstance(raw, str):
            text = raw.strip()
            match = _MONTH.match(text) or _MONTH_ISO.match(text)
            words = norm(text).split()
            try:
                if match and _MONTH.match(text):
                    return dt.date(int(match.group(2)), int(match.group(1)), 1)
                if match:
                    return dt.date(int(match.group(1)), int(match.group(2)), 1)
                if len(words) == 2 and words[0] in MONTHS and words[1].isdigit():
                    return dt.date(int(words[1]), MONTHS[words[0]], 1)
            except ValueError:
                raise CellError(f"« {text} » n'est pas un mois (mm/aaaa)") from None
        try:
            return parse_date(raw).replace(day=1)
        except CellError:
            raise CellError(f"« {_text(raw)} » n'est pas un mois (mm/aaaa)") from None


class Year(Kind):
    editor, excel, num_format, width = "integer", "number", "0", 8

    def clean(self, raw, ctx=None) -> int:
        if isinstance(raw, (dt.date, dt.datetime)):
            return raw.year
        try:
            value = parse_number(raw)
        except CellError:
            try:
                return parse_date(raw).year
            except CellError:
                raise CellError(f"« {_text(raw)} » n'est pas une année") from None
        if value != value.to_integral_value() or not 1900 <= value <= 2100:
            raise CellError(f"« {_text(raw)} » n'est pas une année (1900–2100)")
        return int(value)


class Boolean(Kind):
    editor, excel, width = "boolean", "string", 8

    def clean(self, raw, ctx=None) -> bool:
        if isinstance(raw, bool):
            return raw
        word = norm(_text(raw))
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise CellError(f"« {_text(raw)} » : Oui ou Non attendu")

    def render(self, value):
        return None if value is None else ("Oui" if value else "Non")

    def choices(self, ctx=None) -> list[str]:
        return ["Oui", "Non"]


class Choice(Kind):
    """An enumeration, written as its French label and read as label or code."""

    editor, width = "select", 18

    def __init__(self, enum_cls: type):
        self.enum_cls = enum_cls

    def clean(self, raw, ctx=None):
        word = norm(_text(raw))
        for member in self.enum_cls:
            if word in (norm(member.value), norm(str(member.label))):
                return member
        allowed = ", ".join(str(m.label) for m in self.enum_cls)
        raise CellError(f"« {_text(raw)} » n'est pas une valeur permise ({allowed})")

    def render(self, value):
        if value is None:
            return None
        member = value if isinstance(value, self.enum_cls) else self.enum_cls(value)
        return str(member.label)

    def choices(self, ctx=None) -> list[str]:
        return [str(m.label) for m in self.enum_cls]

    def same(self, old, new) -> bool:
        value = lambda v: v.value if hasattr(v, "value") else v  # noqa: E731
        return value(old) == value(new)
