"""The READMEs and docs/ point only at files that exist: every relative link, and every repository path in backticks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "README.zh-CN.md", *(ROOT / "docs").glob("*.md")])
_LINK = re.compile(r"\]\(([^)\s]+)\)")
#: Backticked paths under the repository's top-level folders (a user's own ``my_agent.py`` is not one).
_PATH = re.compile(r"`((?:src|docs|examples|bench|scripts|clients|tests|web|schema)/[\w./-]*\w)`")


def referenced_files(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    links = {target.split("#")[0] for target in _LINK.findall(text)}
    links = {target for target in links if target and not re.match(r"[a-z]+:", target)}
    resolved = {str((page.parent / target).resolve().relative_to(ROOT)) for target in links}
    installed = {path for path in _PATH.findall(text) if "node_modules" in path}  # made by npm, not committed
    return resolved | (set(_PATH.findall(text)) - installed)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_file_a_page_points_at_exists(page: Path) -> None:
    missing = sorted(path for path in referenced_files(page) if not (ROOT / path).exists())
    assert not missing, f"{page.relative_to(ROOT)} points at missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_no_page_cites_the_design_brief_that_is_not_in_the_repository(page: Path) -> None:
    assert "DESIGN.md" not in page.read_text(encoding="utf-8")
