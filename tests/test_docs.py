"""Every "docs/MODELS.md §x" and pitfall label "Pn" cited in the project exists in docs/MODELS.md.

Also checks that nothing in the project points at the documentation folder outside it (the shared one),
which users do not have.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS_MD = ROOT / "docs" / "MODELS.md"
THIS_FILE = Path(__file__).resolve()
CITING_DIRS = ("sbrzoo", "cli", "docs", "datasets", "tests", "benchmarks")
SUFFIXES = {".py", ".md", ".txt", ".sh", ".toml", ".cfg", ".ini", ".rst"}
SKIP_DIRS = {".venv", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "results"}

HEADING = re.compile(r"^#{1,6}\s+(?:(?P<sec>\d+(?:\.\d+)*[a-z]?)\.?|(?P<pit>P\d+))\s", re.MULTILINE)
SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*[a-z]?)")
# A pitfall label, alone or as a range "P1–P4" / "P1-P4" / "P1–4".
PITFALL = re.compile(r"(?<![\w@./-])P(\d{1,2})(?:\s?[–-]\s?P?(\d{1,2}))?(?![\w@])")
# What may follow "MODELS.md" in one citation: sections, steps, pitfalls and their separators.
CITATION_TAIL = re.compile(
    r"(?:[\s,;(]|#+|\band\b|\bor\b|\bsteps?\s+\d+(?:[–-]\d+)?|\bpitfalls?\b|"
    r"P\d{1,2}(?:\s?[–-]\s?P?\d{1,2})?|§\s?\d+(?:\.\d+)*[a-z]?)*"
)


def _headings() -> tuple[set[str], set[int]]:
    text = MODELS_MD.read_text(encoding="utf-8")
    sections, pitfalls = set(), set()
    for match in HEADING.finditer(text):
        if match["sec"]:
            sections.add(match["sec"])
        else:
            pitfalls.add(int(match["pit"][1:]))
    return sections, pitfalls


def _project_files(dirs: tuple[str, ...] | None = None) -> Iterator[Path]:
    for top in [ROOT / d for d in dirs] if dirs else [ROOT]:
        for folder, subdirs, names in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(names):
                path = Path(folder) / name
                if path.suffix in SUFFIXES and path.resolve() != THIS_FILE:
                    yield path


def _cited(text: str, is_models_md: bool) -> tuple[set[str], set[int]]:
    """Sections cited after each "MODELS.md" (or anywhere, inside MODELS.md) and every pitfall label."""
    sections: set[str] = set()
    if is_models_md:
        sections.update(SECTION.findall(text))
    else:
        for match in re.finditer(r"MODELS\.md", text):
            tail = CITATION_TAIL.match(text, match.end())
            sections.update(SECTION.findall(tail.group(0)))
    pitfalls: set[int] = set()
    for match in PITFALL.finditer(text):
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        pitfalls.update(range(low, high + 1) if high >= low else (low, high))
    return sections, pitfalls


def test_models_md_has_numbered_sections_and_pitfalls() -> None:
    sections, pitfalls = _headings()
    assert {"1", "1.2", "2.1", "3.4a", "3.4c", "4.2", "9.2"} <= sections
    assert pitfalls == set(range(1, max(pitfalls) + 1)), "pitfall labels must run P1..Pn without gaps"


def test_every_cited_section_and_pitfall_exists() -> None:
    sections, pitfalls = _headings()
    missing = []
    for path in _project_files(CITING_DIRS):
        text = path.read_text(encoding="utf-8", errors="replace")
        cited_sections, cited_pitfalls = _cited(text, path == MODELS_MD)
        rel = path.relative_to(ROOT)
        missing += [f"{rel}: §{s}" for s in sorted(cited_sections - sections)]
        missing += [f"{rel}: P{p}" for p in sorted(cited_pitfalls - pitfalls)]
    assert not missing, "cited but not in docs/MODELS.md:\n" + "\n".join(missing)


def test_references_say_docs_models_md() -> None:
    bare = []
    for path in _project_files(CITING_DIRS):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for match in re.finditer(r"MODELS\.md", line):
                before = line[: match.start()]
                if not before.endswith("docs/") or before.endswith("docs/" * 2):
                    bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bare, "cite it as docs/MODELS.md:\n" + "\n".join(bare)


def test_no_reference_to_the_shared_docs_folder() -> None:
    needle = "shared" + "/docs"  # spelt in two parts so that this file does not match itself
    offending = [
        str(path.relative_to(ROOT))
        for path in _project_files()
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not offending, f"files pointing at ../{needle}, which users do not have: {offending}"


@pytest.mark.parametrize("text, sections, pitfalls", [
    ("see docs/MODELS.md §1.2, pitfalls P1–P4), as a chain", {"1.2"}, {1, 2, 3, 4}),
    ("(docs/MODELS.md §3.4a, P8, P9)", {"3.4a"}, {8, 9}),
    ("docs/MODELS.md §1.2 step 10).", {"1.2"}, set()),
    ("docs/MODELS.md records where §7 is not cited", set(), set()),
    ("(docs/MODELS.md\n    # §2.1, §3.1) HR P@20", {"2.1", "3.1"}, set()),
])
def test_citation_parser(text: str, sections: set[str], pitfalls: set[int]) -> None:
    assert _cited(text, is_models_md=False) == (sections, pitfalls)

