"""Reading an answer as a person or a program would (page text and attributes, JSON strings,
spreadsheet cells) and finding in it the stored values of records of another territory."""
from __future__ import annotations

import html
import io
import json
import re
import zipfile

TOKEN = re.compile(r"[\w'’-]+")
#: Values never span these: a tag, an attribute, a JSON string, a cell, a CSV field.
SEGMENT = re.compile(r'[\n\r\t"<>{}\[\],;|]+')
#: Ids in paths and query strings (``/show/35012``, ``page=12345``) are no postal codes.
ID_IN_URL = re.compile(r"(?<=[/=])\d+")
#: Amounts (« 15926.50 », as the API writes money) are no postal codes either, nor a French
#: decimal (« 49,05639 », a latitude in a form): a short whole part, a comma, the fraction
#: (a list of codes « 14000,05639 » stays: its first number is too long to be a whole part).
DECIMAL = re.compile(r"\d+\.\d+|(?<![\d,])\d{1,3},\d+")
XML_TEXT = re.compile(r"<t(?:\s[^>]*)?>(.*?)</t>", re.DOTALL)


def answer_text(response) -> str:
    """What the answer tells: every text of a page, the strings of JSON (numbers are ids and
    figures), the text cells of a spreadsheet."""
    data = response.get_data()
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                parts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                         if n.endswith(".xml")]
            return html.unescape("\n".join(t for part in parts for t in XML_TEXT.findall(part)))
        except zipfile.BadZipFile:
            pass
    if response.mimetype == "application/json":
        try:
            return "\n".join(_strings(json.loads(data)))
        except ValueError:
            pass
    return html.unescape(data.decode("utf-8", "replace"))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _key(value: str) -> tuple[str, ...]:
    return tuple(TOKEN.findall(str(value).casefold()))


class Markers:
    """Finds forbidden values in a text, whole words only. Values allowed to the reader win
    when they contain a forbidden one (« Association Accueil » inside « Association Accueil
    Calvados »): at each word the longest known value is taken, then skipped."""

    def __init__(self, forbidden: dict[str, str], allowed: set[str]):
        self.entries: dict[tuple[str, ...], str | None] = {}
        for value, label in forbidden.items():
            if _key(value):
                self.entries[_key(value)] = label
        for value in allowed:
            if _key(value):
                self.entries[_key(value)] = None
        self.first = {key[0] for key in self.entries}
        self.longest = max(map(len, self.entries), default=0)

    def find(self, text: str) -> tuple[set[str], int]:
        """The labels of the forbidden values found, and how many allowed values were seen."""
        found: set[str] = set()
        seen = 0
        for segment in SEGMENT.split(DECIMAL.sub("#", ID_IN_URL.sub("#", text))):
            tokens = TOKEN.findall(segment.casefold())
            i = 0
            while i < len(tokens):
                size = self._match(tokens, i)
                if size:
                    label = self.entries[tuple(tokens[i:i + size])]
                    if label:
                        found.add(label)
                    else:
                        seen += 1
                i += size or 1
        return found, seen

    def _match(self, tokens: list[str], i: int) -> int:
        if tokens[i] not in self.first:
            return 0
        for size in range(min(self.longest, len(tokens) - i), 0, -1):
            if tuple(tokens[i:i + size]) in self.entries:
                return size
        return 0
