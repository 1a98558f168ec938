"""Refresh the catalogs: extract, update, fill French (our source strings are French), compile.

Usage: ``python translations/sync.py`` (the Makefile's ``make translations``).
The French catalog is complete by construction; ``fab/fr`` holds our overrides of
Flask-AppBuilder's own French strings, kept by hand.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TR = ROOT / "translations"


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def fill_french(po_path: Path) -> None:
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    for message in catalog:
        if message.id and not any(message.string if isinstance(message.string, tuple) else [message.string]):
            message.string = message.id  # a plural entry gets its (singular, plural) msgids
        if message.id and message.fuzzy:
            message.flags.discard("fuzzy")
    with po_path.open("wb") as handle:
        write_po(handle, catalog, width=100)


def main() -> None:
    run("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "_",
        "--no-location", "-o", "translations/messages.pot", ".")
    run("update", "-i", "translations/messages.pot", "-d", "translations", "--no-fuzzy-matching")
    fill_french(TR / "fr" / "LC_MESSAGES" / "messages.po")
    run("compile", "-d", "translations")
    run("compile", "-d", "translations/fab")


if __name__ == "__main__":
    main()
