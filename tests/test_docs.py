"""The documentation stays honest: every command is documented with an example, every page
is in the navigation (a translation through the page it translates), every relative link
resolves, and the site builds in strict mode in every language."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from sopengine.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    """Every command under the group, sub-groups (``audit``) walked, as ("audit verify", cmd)."""
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{name} is listed but cannot be loaded"
        path = prefix + (name,)
        found.append((" ".join(path), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


def _mkdocs_config() -> dict:
    """mkdocs.yml read safely; python tags (the mermaid fence's formatter) become plain strings."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)
    return yaml.load(MKDOCS_YML.read_text(encoding="utf-8"), Loader=Loader)


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _nav_titles(nav: object) -> list[str]:
    """The nav's titles, sections included; an SOP's interpretation page is titled by the SOP's
    own (Indonesian) name, which needs no translation."""
    if isinstance(nav, list):
        return [title for item in nav for title in _nav_titles(item)]
    if isinstance(nav, dict):
        return [title for key, value in nav.items()
                for title in ([] if isinstance(value, str) and value.startswith("definitions/") else [key])
                + _nav_titles(value)]
    return []


def _i18n() -> dict:
    """The i18n plugin's settings in mkdocs.yml."""
    for plugin in _mkdocs_config().get("plugins", []):
        if isinstance(plugin, dict) and "i18n" in plugin:
            return plugin["i18n"]
    raise AssertionError("mkdocs.yml does not configure the i18n plugin")


def _translation_locales() -> set[str]:
    """The languages other than the default one: a page ``x.<locale>.md`` translates ``x.md``."""
    return {lang["locale"] for lang in _i18n()["languages"] if not lang.get("default")}


_LOCALE_SUFFIX = re.compile(r"^(?P<stem>.+)\.(?P<locale>[a-z]{2}(?:[-_][A-Za-z]{2,4})?)\.md$")


def _split_pages() -> tuple[list[str], dict[str, str]]:
    """The pages of the default language, and each translation with the page it translates."""
    originals, translations = [], {}
    for path in sorted(DOCS.rglob("*.md")):
        page = str(path.relative_to(DOCS))
        found = _LOCALE_SUFFIX.match(page)
        if found:
            translations[page] = f"{found['stem']}.md"
        else:
            originals.append(page)
    return originals, translations


def test_the_walk_finds_the_core_commands() -> None:
    names = {name for name, _ in _commands()}
    assert {"list", "show", "validate", "schema", "run", "status", "complete", "decide", "reopen",
            "assign", "cancel", "inbox"} <= names


@pytest.mark.parametrize("name,command", _commands(), ids=[name for name, _ in _commands()])
def test_every_command_has_help_ending_with_an_example(name: str, command: click.Command) -> None:
    text = (command.help or "").strip()
    assert text, f"'sopengine {name}' has no help text"
    assert command.get_short_help_str().strip(), f"'sopengine {name}' has no short help"
    tail = text.rsplit("Example:", 1)
    assert len(tail) == 2, f"'sopengine {name}' help has no Example: block"
    example = tail[1].strip()
    assert example.startswith("sopengine "), f"'sopengine {name}' Example: should show a sopengine command, got {example[:40]!r}"
    assert not re.search(r"\n\s*\n\s*[A-Z][a-z]+.*\.\s*$", tail[1]), f"'sopengine {name}' help goes on after its Example: block"


def test_cli_reference_is_generated_over_the_whole_group() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"^::: mkdocs-click\n((?:    :.*\n)+)", text, re.M)
    assert block, "docs/cli.md does not use the mkdocs-click directive"
    options = dict(re.findall(r":(\w+):\s*(.*)", block.group(1)))
    assert options["module"] == "sopengine.cli"
    assert options["command"] == "cli"
    assert options["prog_name"] == "sopengine"
    assert options.get("list_subcommands") == "true"


def test_every_command_appears_in_the_rendered_reference() -> None:
    markdown = pytest.importorskip("markdown", reason="the docs extra is not installed")
    pytest.importorskip("mkdocs_click", reason="mkdocs-click is not installed (pip install '.[docs]')")
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    html = markdown.markdown(text, extensions=["mkdocs-click", "tables", "attr_list"])
    for name, command in _commands():
        assert f"sopengine {name}" in html, f"'sopengine {name}' is missing from the generated reference"
        first_line = (command.help or "").strip().splitlines()[0]
        assert first_line.split(";")[0][:30] in html, f"the help of 'sopengine {name}' is not in the reference"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_pages(_mkdocs_config()["nav"])
    pages, _ = _split_pages()
    assert sorted(set(pages) - set(nav)) == [], "pages missing from the mkdocs.yml nav"
    assert sorted(p for p in nav if not (DOCS / p).is_file()) == [], "nav entries without a page"
    assert not any(_LOCALE_SUFFIX.match(p) for p in nav), "the nav names translations; name the English page"


def test_every_translation_translates_a_page_in_the_nav() -> None:
    """``x.id.md`` is shown in the Indonesian site where the nav puts ``x.md``: so ``x.md`` must
    exist and be in the nav, and ``id`` must be a language the site is built in."""
    nav = set(_nav_pages(_mkdocs_config()["nav"]))
    _, translations = _split_pages()
    locales = _translation_locales()
    assert translations, "no translated pages found (x.id.md); the language pattern may be wrong"
    for page, original in translations.items():
        locale = _LOCALE_SUFFIX.match(page)["locale"]
        assert locale in locales, f"{page}: language {locale!r} is not among the site's languages {sorted(locales)}"
        assert original in nav, f"{page} translates {original}, which is not a page in the nav"


def test_the_languages_are_configured() -> None:
    """English is the default and Indonesian is built beside it; untranslated pages fall back
    to English, so the Indonesian site has every page."""
    i18n = _i18n()
    assert i18n.get("docs_structure", "suffix") == "suffix"
    assert i18n.get("fallback_to_default", True) is True
    languages = {lang["locale"]: lang for lang in i18n["languages"]}
    assert languages["en"].get("default") is True and languages["en"].get("build", True) is True
    assert languages["id"].get("build", True) is True and not languages["id"].get("default")
    assert languages["id"]["name"] == "Bahasa Indonesia"
    untranslated = set(_nav_titles(_mkdocs_config()["nav"])) - set(languages["id"].get("nav_translations", {}))
    assert untranslated == set(), "nav titles without an Indonesian title in nav_translations"


def test_the_site_needs_no_network() -> None:
    config = _mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False, "Google fonts would be fetched at build and read time"
    assert config["strict"] is True


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)  # no links inside code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    links = [a or b for a, b in _LINK.findall(text)]
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", link)]


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target = link.split("#", 1)[0]
        assert not target.startswith("/"), f"{page.name}: absolute link {link}; use a relative one"
        if not (page.parent / target).resolve().exists():
            broken.append(link)
    assert broken == [], f"{page.relative_to(DOCS)} links to missing files"


def test_the_link_check_sees_links() -> None:
    """The link pattern finds the links this site relies on (so the check above can fail)."""
    found = _relative_links(DOCS / "getting-started.md")
    assert "admin-guide.md" in found and "time.md" in found
    assert all(not link.startswith("http") for link in found)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install '.[docs]')")
    pytest.importorskip("mkdocs_click", reason="mkdocs-click is not installed (pip install '.[docs]')")
    pytest.importorskip("mkdocs_static_i18n", reason="mkdocs-static-i18n is not installed (pip install '.[docs]')")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(MKDOCS_YML), "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (site / "cli.html").is_file() and (site / "index.html").is_file()
    reference = (site / "cli.html").read_text(encoding="utf-8")
    for name, _ in _commands():
        assert f"sopengine {name}" in reference
    # The Indonesian site has every page: the translations, and the English pages in their place.
    originals, translations = _split_pages()
    for page in originals:
        assert (site / "id" / page).with_suffix(".html").is_file(), f"id/{page} was not built"
    for page, original in translations.items():
        locale = _LOCALE_SUFFIX.match(page)["locale"]
        built = (site / locale / original).with_suffix(".html")
        text = built.read_text(encoding="utf-8")
        assert f'<html lang="{locale}"' in text, f"{built.relative_to(site)} is not marked as {locale}"
        english = (site / original).with_suffix(".html").read_text(encoding="utf-8")
        assert f'hreflang="{locale}"' in english and 'hreflang="en"' in text, f"{original}: no language switcher"
    shutil.rmtree(site)
