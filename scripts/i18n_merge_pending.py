#!/usr/bin/env python3
"""Bring the web app's catalogs up to date and merge the translations helpers left pending.

Every branch that adds user-visible text writes its Chinese in ``i18n/pending/<branch>.json``
(``{"messages": {"English": "中文"}, "js": {...}}``: ``messages`` for templates and Python,
``js`` for the page scripts' ``t()``) instead of editing the ``.po`` files, which would
conflict. After the branches are merged, this script (also what ``make i18n`` runs):

1. extracts the marked strings (``pybabel extract``, as configured in babel.cfg and
   babel-js.cfg) into ``web/translations/{messages,js}.pot``;
2. updates each language's ``.po`` from them (``pybabel update``, no fuzzy guesses);
3. fills every untranslated entry of the Chinese catalogs from the pending files (a
   translation whose placeholders, ``{name}`` or ``%(name)s``, differ from the English is
   refused and reported);
4. compiles the ``.mo`` files (committed beside the ``.po``);
5. lists the msgids still untranslated; ``--strict`` makes that exit 1.

Babel's own command line runs in this process, so any Python with Babel installed will do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "smartalbum"
TRANSLATIONS = SRC / "web" / "translations"
PENDING = ROOT / "i18n" / "pending"
DOMAINS = ("messages", "js")
LANGUAGE = "zh"

#: The same keywords and inputs as ever: Python + templates, then the page scripts. Paths are
#: relative to the repository (the script works there) so the catalogs' "#:" lines are too.
EXTRACT = {
    "messages": ["-F", "babel.cfg", "-k", "_", "-k", "_l", "-k", "gettext",
                 "-k", "ngettext:1,2", "src/smartalbum"],
    "js": ["-F", "babel-js.cfg", "-k", "t", "src/smartalbum/web/static"],
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)[sd]")


def pybabel(*args: str) -> None:
    """One pybabel command, in this process (quiet; raises SystemExit on failure)."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def placeholders(text: str) -> list[str]:
    """The named placeholders of a message, sorted (a translation must keep them all)."""
    return sorted(a or b for a, b in _PLACEHOLDER.findall(text))


def load_pending(folder: Path) -> dict[str, dict[str, str]]:
    """Every pending file's translations by domain; later files (by name) never override
    an earlier one's, and a clash is reported."""
    merged: dict[str, dict[str, str]] = {d: {} for d in DOMAINS}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for domain in DOMAINS:
            for english, chinese in (data.get(domain) or {}).items():
                if not isinstance(chinese, str) or not chinese.strip():
                    continue
                known = merged[domain].setdefault(english, chinese)
                if known != chinese:
                    print(f"note: {path.name}: {english!r} already pending as {known!r}")
    return merged


def extract_and_update(translations: Path) -> None:
    for domain in DOMAINS:
        pot = translations / f"{domain}.pot"
        pybabel("extract", *EXTRACT[domain][:-1], "-o", str(pot), EXTRACT[domain][-1])
        po = translations / LANGUAGE / "LC_MESSAGES" / f"{domain}.po"
        command = "update" if po.is_file() else "init"
        extra = ["-N"] if command == "update" else []
        pybabel(command, *extra, "-D", domain, "-i", str(pot), "-d", str(translations),
                "-l", LANGUAGE)


def fill(
    domain: str, pending: dict[str, dict[str, str]], translations: Path = TRANSLATIONS
) -> tuple[int, list[str]]:
    """Fill the untranslated entries of one catalog; returns (filled, still untranslated)."""
    po = translations / LANGUAGE / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGE)
    other = next(d for d in DOMAINS if d != domain)
    filled, missing = 0, []
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        # Only brace placeholders are used; extraction marks "{pct}% confident" as a
        # %-format ("% c") and the compiler then refuses its translation.
        message.flags.discard("python-format")
        if message.string and not message.fuzzy:
            continue
        # A helper may have filed a string under the other domain: use it there too.
        chinese = pending[domain].get(message.id) or pending[other].get(message.id)
        if chinese and placeholders(chinese) != placeholders(message.id):
            print(f"refused ({domain}): placeholders differ: {message.id!r} -> {chinese!r}")
            chinese = None
        if chinese:
            message.string = chinese
            message.flags.discard("fuzzy")
            filled += 1
        else:
            missing.append(message.id)
    with po.open("wb") as fh:
        write_po(fh, catalog, width=76, omit_header=False)
    return filled, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any msgid is still untranslated")
    parser.add_argument("--no-extract", action="store_true",
                        help="skip extraction and update (only fill and compile)")
    parser.add_argument("--pending", type=Path, default=PENDING,
                        help="folder of the pending JSON files (default: i18n/pending)")
    parser.add_argument("--translations", type=Path, default=TRANSLATIONS,
                        help="the catalogs' folder (default: the web app's)")
    args = parser.parse_args(argv)
    args.pending = args.pending.resolve()
    translations = args.translations.resolve()
    os.chdir(ROOT)

    if not args.no_extract:
        extract_and_update(translations)
    pending = load_pending(args.pending)
    untranslated: dict[str, list[str]] = {}
    for domain in DOMAINS:
        filled, missing = fill(domain, pending, translations)
        pybabel("compile", "-D", domain, "-d", str(translations), "-l", LANGUAGE)
        untranslated[domain] = missing
        print(f"{domain}: {filled} filled from {args.pending.name}/, {len(missing)} untranslated")
    for domain, missing in untranslated.items():
        for msgid in missing:
            print(f"untranslated ({domain}): {msgid!r}")
    return 1 if args.strict and any(untranslated.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
