"""The README is a short guide whose Quick start works, and the manual in docs/ holds together:
every link and anchor resolves, every test it cites exists, the picture is a real run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pexpect
import pytest

from tests.conftest import REPO
from tests.minitrain.cli.test_preflight_terminal import PROMPTS, answer, preflight

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q . && "
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def prose(text: str) -> str:
    """The text outside fenced code blocks, inline code blanked: what GitHub reads as links and
    headings."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(re.sub(r"`[^`\n]*`", "``", line))
    return "\n".join(kept)


def slugs(path: Path) -> set[str]:
    """GitHub's heading anchors (github-slugger): lower case, every character that is not a
    letter, digit, `_`, `-` or space dropped, spaces made `-`; a repeat gets `-1`, `-2`, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    """Every link and image target in the page's prose, alt text across lines included."""
    return re.findall(r"\]\(([^)\s]+)\)", prose(path.read_text()))


def section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def test_the_readme_is_a_guide_of_at_most_200_lines_of_reasonable_width() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    assert max(len(line) for line in lines) <= 120


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_link_and_anchor_resolves(page: Path) -> None:
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not checked without the network
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(REPO), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert resolved.suffix == ".md", f"{page.name}: {target}: an anchor in a non-page"
            assert anchor in slugs(resolved), f"{page.name}: {target}: no such heading"


def test_every_page_of_the_manual_is_listed_in_its_index() -> None:
    index = set(links(REPO / "docs" / "README.md"))
    pages = {p.name for p in PAGES if p.parent.name == "docs" and p.name != "README.md"}
    assert pages <= index, sorted(pages - index)


def test_the_slug_rule_matches_github_on_the_headings_used_here() -> None:
    page = REPO / "docs" / "ledger.md"
    assert "what-the-checksums-protect-and-what-they-do-not" in slugs(page)
    assert {"budget", "preflight"} <= slugs(REPO / "docs" / "commands.md")  # "## `budget`"


def test_every_test_node_id_in_the_guarantees_exists() -> None:
    """A row cites `path::test_name`, a bare file `test_x.py::test_name`, or `::test_name` of
    the file named last in that row; each must be a `def` in that very file."""
    text = (REPO / "docs" / "guarantees.md").read_text()
    cited = 0
    for row in text.splitlines():
        if not row.startswith("| ") or row.startswith(("| promise", "| ---")):
            continue
        current: list[Path] = []
        for ref in re.findall(r"`([^`]+)`", row.rsplit(" | ", 1)[-1]):
            name, sep, test = ref.partition("::")
            if name.endswith(".py"):
                current = [REPO / name] if "/" in name else list(REPO.glob(f"tests/**/{name}"))
                assert current, ref
                assert all(p.exists() for p in current), ref
            if sep:
                assert current, f"{ref}: no file named before it in its row"
                test = re.match(r"test_\w+", test).group()  # type: ignore[union-attr]
                assert any(f"def {test}(" in p.read_text() for p in current), ref
                cited += 1
    assert cited >= 40


def test_the_quick_start_test_command_is_what_ci_runs() -> None:
    second = code_blocks(section(README.read_text(), "## Quick start"), "sh")[1]
    assert second.strip() in (REPO / ".ci" / "run").read_text()


@pytest.mark.usefixtures("file_mode")
def test_the_readme_first_command_rehearses_in_a_fresh_clone(tmp_path: Path) -> None:
    """The Quick start's first command, read from README.md, at a real terminal in a fresh clone
    of this repository: the person types every answer and `authorize`; the committed ledger is
    byte for byte what it was, and git sees no change, not even an ignored file. The command's
    install part (`python3 -m venv .venv && pip install .`) is replaced by the venv that runs
    this suite, to keep the suite fast; the rest runs word for word."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    quick = section(README.read_text(), "## Quick start")
    command = " ".join(line.strip() for line in code_blocks(quick, "sh")[0].splitlines())
    assert command.startswith(INSTALL), command
    rehearsal = command.removeprefix(INSTALL)
    assert rehearsal.startswith(".venv/bin/preflight run ")
    assert "--dry-run" in rehearsal
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    ledger = clone / "experiments/35-cloud-budget/spend.jsonl"
    before = ledger.read_bytes() if ledger.exists() else None
    tmp = tmp_path / "tmp"  # mktemp -d lands here, inside this test's folder
    tmp.mkdir()
    bin_dir = Path(preflight()).parent
    child = pexpect.spawn(
        "bash",
        ["-c", rehearsal.replace(".venv/bin/", f"{bin_dir}/")],
        cwd=str(clone),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
        env={
            "PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
            "TERM": "xterm",
            "HOME": os.environ["HOME"],
            "TMPDIR": str(tmp),
            "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers cursor-position requests here
        },
    )
    for _, prompt, keys in PROMPTS:
        answer(child, prompt, keys)
    success = next(
        line
        for block in code_blocks(quick, "text")
        for line in block.splitlines()
        if line.startswith("dry run: ")
    )
    child.expect_exact(success)  # what the README says success looks like
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (ledger.read_bytes() if ledger.exists() else None) == before
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""
    [record] = tmp.glob("tmp.*/*-lab02-tp-spinup-dry-run.json")
    assert '"status": "would-authorize"' in record.read_text()


def screen_text(svg: Path) -> str:
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    rows = root.iter(f"{ns}text")
    return "\n".join("".join(row.itertext()) for row in rows)


def steady(screen: str) -> list[str]:
    """The screen's lines up to the record's path, without the clock: what every run shows."""
    lines = screen.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("record: "))
    return [line for line in lines[:end] if "UTC" not in line]


def test_the_readme_picture_is_a_recorded_rehearsal(tmp_path: Path) -> None:
    """docs/record_demo.py records a real rehearsal at a pseudo-terminal; the committed SVG is
    one such recording (its clock line aside)."""
    out = tmp_path / "demo.svg"
    subprocess.run(
        [sys.executable, str(REPO / "docs" / "record_demo.py"), "--out", str(out)],
        check=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # its temporary folder lands here
        capture_output=True,
    )
    fresh, committed = steady(screen_text(out)), steady(screen_text(REPO / "docs" / "demo.svg"))
    assert fresh[-1] == "dry run: would authorize lab02-tp-spinup $3.00; remaining $2.00 of $5.00"
    assert fresh == committed
    assert "docs/demo.svg" in links(README)


def test_the_package_says_its_license_and_that_it_is_posix_only() -> None:
    """An SPDX license with its file (the deprecated table form warns at every build), and the
    platform said in the metadata and in the README: the ledger locks with fcntl."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert "Operating System :: POSIX" in project["classifiers"]
    assert "POSIX-only" in README.read_text()
