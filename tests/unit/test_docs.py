"""The documentation stands alone: it cites nothing users of the repository do not have, and every
relative link in README.md and docs/ leads to a file (and a heading) that exists."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide"

# Written in pieces so that this file does not cite them itself.
FORBIDDEN = (
    re.compile(re.escape("../" + "shared")),
    re.compile(re.escape("SPEC" + ".md")),
    re.compile(r"\b" + "SPEC" + r" §"),
)
"""A brief kept beside the repository while it was built: users do not have it."""

_NOT_SCANNED = {".git", ".venv", ".aws-sam", ".hypothesis", ".mypy_cache", ".ruff_cache", "__pycache__"}
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def repository_files() -> list[Path]:
    """The files of the repository: tracked, plus new ones not ignored; outside git, every file
    but the virtualenv, caches and build output."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not _NOT_SCANNED.intersection(path.relative_to(ROOT).parts)
        ]
    names = {name for name in listed.decode().split("\0") if name}
    return sorted(
        ROOT / name
        for name in names
        if not _NOT_SCANNED.intersection(Path(name).parts) and (ROOT / name).is_file()
    )


def citations_of_missing_documents(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8", errors="ignore")
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        found += [
            f"{number}: {match.group(0)!r}" for pattern in FORBIDDEN for match in pattern.finditer(line)
        ]
    return found


def markdown_prose(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code removed."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, _INLINE_CODE.sub("", line)


def link_targets(text: str) -> Iterator[tuple[int, str]]:
    for number, line in markdown_prose(text):
        for match in _INLINE_LINK.finditer(line):
            yield number, match.group(1)
        reference = _REFERENCE_LINK.match(line)
        if reference:
            yield number, reference.group(1)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text in lower case, punctuation dropped, spaces as
    hyphens (`## Score, grade, owner` → `score-grade-owner`)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"[`*]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in markdown_prose(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if not heading:
            continue
        anchor = github_anchor(heading.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for number, target in link_targets(path.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        location, _, anchor = target.partition("#")
        linked = (path.parent / location).resolve() if location else path
        if not linked.exists():
            broken.append(f"{number}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{number}: {target} (no heading #{anchor} in {linked.name})")
    return broken


def documentation() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# ---------------------------------------------------------------------------------------------


def test_no_file_cites_a_document_users_do_not_have() -> None:
    cited = {
        str(path.relative_to(ROOT)): found
        for path in repository_files()
        if (found := citations_of_missing_documents(path))
    }
    assert cited == {}, (
        f"cite the guide (docs/guide/<topic>.md) instead of the brief the behaviour was built from: {cited}"
    )


@pytest.mark.parametrize("page", documentation(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_and_the_guide_index_link_every_guide_page() -> None:
    pages = {path.name for path in GUIDE.glob("*.md")} - {"README.md"}
    for index in (ROOT / "README.md", GUIDE / "README.md"):
        linked = {
            (index.parent / target.partition("#")[0]).resolve()
            for _, target in link_targets(index.read_text(encoding="utf-8"))
        }
        missing = sorted(page for page in pages if (GUIDE / page).resolve() not in linked)
        assert missing == [], f"{index.relative_to(ROOT)} does not link {missing}"


def test_the_checks_would_catch_a_citation_a_broken_link_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## Score, grade, owner\n\n## Setup\n\n## Setup\n")
    brief = "../" + "shared/SPEC" + ".md"
    page = tmp_path / "page.md"
    page.write_text(
        f"See [the brief]({brief}) and SPEC" + " §5.\n"
        "[ok](other.md#score-grade-owner), [ok too](other.md#setup-1), [web](https://example.com)\n"
        "[gone](missing.md) [no heading](other.md#nowhere) [self](#title)\n"
        "```\n[inside a code block](nowhere.md)\n```\n"
        "`[inline code](nowhere.md)`\n"
        "[ref]: missing-too.md\n"
    )
    assert [line.split(":")[0] for line in citations_of_missing_documents(page)] == ["1", "1", "1"]
    assert broken_links(page) == [
        f"1: {brief} (no such file)",
        "3: missing.md (no such file)",
        "3: other.md#nowhere (no heading #nowhere in other.md)",
        "3: #title (no heading #title in page.md)",
        "8: missing-too.md (no such file)",
    ]
