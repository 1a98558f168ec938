"""Text normalisation shared by header matching, enum and reference look-ups.

Agents type headers and labels in every possible way (``N° DNA``, ``code dna``,
``DNA (code)``); everything is compared after ``norm`` (case, accents, punctuation and spaces
ignored) and headers after ``header_key`` (word order, ``n°``/``no``/``numéro`` and small
French words ignored too).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

_PUNCT = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"^(19[5-9]\d|20\d\d|2100)$")
#: Words that carry no meaning in a header: numbering marks and small French words.
_NOISE = {"n", "no", "num", "numero", "de", "du", "des", "d", "la", "le", "les", "l", "a", "au",
          "aux", "en", "par", "pour", "et"}


def norm(value: object) -> str:
    """Lower case, no accents, punctuation and repeated spaces turned into one space."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode().lower()
    return _PUNCT.sub(" ", text).strip()


def header_key(value: object) -> tuple[str, Optional[int]]:
    """The comparable form of a header and the year it carries (``DGF 2023`` → ``dgf``, 2023)."""
    year = None
    words = []
    for word in norm(value).split():
        if _YEAR.match(word) and year is None:
            year = int(word)
        elif word not in _NOISE:
            words.append(word)
    return " ".join(sorted(words)), year
