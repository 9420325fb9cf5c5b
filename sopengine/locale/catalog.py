"""Extract, update, compile and check the message catalogues (with Babel).

Not used at run time: the runtime reads the compiled catalogue with the standard library.

- ``update``: every message the code marks (``_``, ``N_``, ``ngettext``), every help text of
  the command line (commands' docstrings and options' help, read from the click objects, which
  is what ``--help`` prints) and click's own words are gathered; the Indonesian catalogue keeps
  its translations and gains the new messages, untranslated; messages no longer used go.
- ``compile``: writes the ``.mo`` beside each ``.po``.
- ``check``: exits 1 when a message of the code is missing from a catalogue, untranslated or
  fuzzy, or when a translation drops or invents a ``{placeholder}``.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent.parent
LOCALE = Path(__file__).resolve().parent
DOMAIN = "sopengine"
LANGS = ("id",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str, root: Path = LOCALE) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _source_messages() -> dict[str | tuple[str, ...], list[tuple[str, int]]]:
    found: dict[str | tuple[str, ...], list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map=[("locale/**", "ignore"), ("**.py", "python"), ("server/templates/**.html", "jinja2.ext:babel_extract")],
        keywords=KEYWORDS, options_map={"server/templates/**.html": {"extensions": "jinja2.ext.do"}},
    ):
        key = tuple(message) if isinstance(message, (tuple, list)) else message
        if key:
            found.setdefault(key, []).append((f"sopengine/{filename}", lineno))
    return found


def _click_words() -> dict[str | tuple[str, ...], list[tuple[str, int]]]:
    import click

    found: dict[str | tuple[str, ...], list[tuple[str, int]]] = {}
    folder = Path(click.__file__).resolve().parent
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(folder), method_map=[("**.py", "python")], keywords={"_": None, "ngettext": (1, 2)},
    ):
        key = tuple(message) if isinstance(message, (tuple, list)) else message
        if key:
            found.setdefault(key, []).append((f"click/{filename}", lineno))
    return found


def help_texts() -> dict[str, list[tuple[str, int]]]:
    """Every help text ``--help`` prints: each command's and group's, and each option's."""
    import click

    from sopengine.cli import COMMANDS, cli

    found: dict[str, list[tuple[str, int]]] = {}

    def add(text: str | None, where: str) -> None:
        if text:
            place = "cli/" + where.replace(" ", "/")  # where --help prints it: cli/sopengine/run/--period
            found.setdefault(inspect.cleandoc(text).partition("\f")[0], []).append((place, 0))

    def walk(command: click.Command, path: str) -> None:
        add(command.help, path)
        add(command.short_help, path)
        for param in command.params:
            add(getattr(param, "help", None), f"{path} {getattr(param, 'opts', [''])[0]}")
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, f"{path} {name}")

    walk(cli, "sopengine")
    for name, (_, short) in COMMANDS.items():
        add(short, f"sopengine {name}")
    return found


def messages() -> dict[str | tuple[str, ...], list[tuple[str, int]]]:
    out = _click_words()
    for source in (_source_messages(), help_texts()):
        for key, places in source.items():
            out.setdefault(key, []).extend(places)
    return out


def read(lang: str) -> Catalog:
    """*lang*'s catalogue, with the translations of any part files (``parts/*.po``) laid over it.

    Part files let several people translate different parts of the code at once; ``update``
    folds them into the catalogue.
    """
    path = po_path(lang)
    catalog = Catalog(locale=lang, domain=DOMAIN, project="sopengine")
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
    for part in sorted((path.parent / "parts").glob("*.po")):
        with part.open("rb") as fh:
            extra = read_po(fh, locale=lang, domain=DOMAIN)
        for m in extra:
            if m.id and _translated(m) and not m.fuzzy:
                mine = catalog.get(m.id)
                if mine is None:
                    catalog.add(m.id, m.string, locations=m.locations)
                else:
                    mine.string = m.string
                    mine.flags.discard("fuzzy")
    return catalog


def todo(lang: str, prefixes: list[str]) -> Catalog:
    """The messages found at places starting with *prefixes* that *lang* does not translate yet."""
    catalog = read(lang)
    out = Catalog(locale=lang, domain=DOMAIN, project="sopengine", charset="utf-8")
    for key, places in messages().items():
        if prefixes and not any(f.startswith(p) for f, _ in places for p in prefixes):
            continue
        msgid = key[0] if isinstance(key, tuple) else key
        m = catalog.get(msgid)
        if m is None or m.fuzzy or not _translated(m):
            out.add(key, ("", "") if isinstance(key, tuple) else "", locations=sorted(set(places))[:6])
    return out


def update(lang: str) -> tuple[int, int]:
    """Bring *lang*'s catalogue up to the code; returns (messages, untranslated)."""
    old = read(lang)
    new = Catalog(locale=lang, domain=DOMAIN, project="sopengine", charset="utf-8")
    for key, places in sorted(messages().items(), key=lambda kv: (kv[1][0], str(kv[0]))):
        previous = old.get(key[0] if isinstance(key, tuple) else key)
        string = previous.string if previous is not None else ("", "") if isinstance(key, tuple) else ""
        flags = set(previous.flags) if previous is not None else set()
        new.add(key, string, locations=sorted(set(places))[:6], flags=flags)
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, new, width=100, sort_by_file=False, include_previous=False)
    untranslated = sum(1 for m in new if m.id and not _translated(m))
    return len([m for m in new if m.id]), untranslated


def _translated(message: Any) -> bool:
    string = message.string
    if isinstance(string, (tuple, list)):
        return all(string)
    return bool(string)


def compile_catalogue(lang: str, target: Path | None = None) -> Path:
    catalog = read(lang)
    out = target or mo_path(lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)
    return out


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def problems(lang: str, prefixes: list[str] | None = None) -> list[str]:
    """What keeps *lang*'s catalogue from being complete and true to the code (at *prefixes*)."""
    catalog = read(lang)
    wanted = messages()
    out = []
    for key, places in wanted.items():
        if prefixes and not any(f.startswith(p) for f, _ in places for p in prefixes):
            continue
        msgid = key[0] if isinstance(key, tuple) else key
        m = catalog.get(msgid)
        if m is None:
            out.append(f"missing: {msgid!r}")
        elif m.fuzzy:
            out.append(f"fuzzy: {msgid!r}")
        elif not _translated(m):
            out.append(f"untranslated: {msgid!r}")
        else:
            ids = m.id if isinstance(m.id, (tuple, list)) else (m.id,)
            strings = m.string if isinstance(m.string, (tuple, list)) else (m.string,)
            need = set(_PLACEHOLDER.findall(ids[0] or ""))
            for s in strings:
                if set(_PLACEHOLDER.findall(s or "")) != need:
                    out.append(f"placeholders differ: {msgid!r} -> {s!r}")
    return out


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("update", "compile", "check", "todo"):
        sys.exit("usage: python -m sopengine.locale update|compile|check [PLACE...]|todo [PLACE...]\n"
                 "  PLACE: the start of a message's place, e.g. sopengine/runs.py or cli/sopengine/run")
    for lang in LANGS:
        if args[0] == "todo":
            write_po(sys.stdout.buffer, todo(lang, args[1:]), width=100, omit_header=True)
        elif args[0] == "update":
            total, left = update(lang)
            print(f"{po_path(lang)}: {total} messages, {left} untranslated")
        elif args[0] == "compile":
            print(f"wrote {compile_catalogue(lang)}")
        else:
            found = problems(lang, args[1:])
            for line in found:
                print(line)
            if found:
                sys.exit(1)
            print(f"{po_path(lang)}: complete")
