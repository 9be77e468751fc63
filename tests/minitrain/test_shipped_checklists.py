"""The default checklists ship in the package, and a repository's own `checklists/` override
them by name (issue 25: installed as a tool, `preflight run` said `checklists/pre-flight.yaml: no
such file` outside this repository)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minitrain import checklists
from minitrain.cli.budget import main as budget
from minitrain.cli.preflight import main as preflight
from tests.conftest import REPO

SHIPPED_FILES = [*(f"{name}.yaml" for name in checklists.NAMES), "checklist.schema.json"]
ANSWERS = (
    "no-other-instances: 0\nbudget-alert: 4.00\nauto-termination: 4\ninstance-type: 0.70\n"
    "termination-plan: runpodctl pod delete POD_ID\ngate: authorize\n"
)


@pytest.mark.parametrize("name", SHIPPED_FILES)
def test_the_shipped_copy_is_this_repository_s_checklist_byte_for_byte(name: str) -> None:
    """One routine: the package ships what the documents, CI and the examples name."""
    shipped = (checklists.SHIPPED / name).read_bytes()
    assert shipped == (REPO / "checklists" / name).read_bytes(), (
        f"checklists/{name} and src/minitrain/checklists/{name} differ: edit both"
        f" (cp checklists/{name} src/minitrain/checklists/)"
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with no checklists of its own; the shell in a subfolder."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    return root


def test_a_name_means_the_repository_s_own_copy_else_the_shipped_one(repo: Path) -> None:
    shipped = checklists.SHIPPED / "post-start.yaml"
    for given in (None, Path("pre-flight"), Path("checklists/pre-flight.yaml")):
        assert checklists.locate(given) == checklists.SHIPPED / "pre-flight.yaml", given
    assert checklists.locate(Path("post-start.yaml")) == shipped
    own = repo / "checklists" / "post-start.yaml"
    own.parent.mkdir()
    own.write_text(shipped.read_text())
    assert checklists.locate(Path("post-start")) == own
    assert checklists.locate(Path("checklists/post-start.yaml")) == own
    assert checklists.locate(None) == checklists.SHIPPED / "pre-flight.yaml"
    for other in (Path("mine.yaml"), Path("elsewhere/post-start.yaml"), repo / "gone.yaml"):
        assert checklists.locate(other) == other  # not a name of ours: "no such file"


def test_lint_and_render_take_a_name_outside_this_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preflight(["lint", "pre-flight"]) == 0
    assert capsys.readouterr().out == "pre-flight: ok\n"
    assert preflight(["lint", "checklists/post-flight.yaml"]) == 0
    assert preflight(["render", "post-start"]) == 0
    assert capsys.readouterr().out.count("# ") >= 1
    assert preflight(["lint", "mine.yaml"]) == 2
    assert "mine.yaml" in capsys.readouterr().err


@pytest.mark.usefixtures("file_mode")
def test_a_dry_run_in_a_new_repository_walks_the_shipped_checklist_or_its_own(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    assert budget(["init", "--ceiling", "5", "--vendor", "runpod", "--price", "0.35"]) == 0
    dry = ["run", "--label", "lab01-x", "--estimate", "1.00", "--dry-run"]
    records = tmp_path / "records"
    assert preflight([*dry, "--answers", str(answers), "--records", str(records)]) == 0
    assert "dry run: would authorize lab01-x $1.00" in capsys.readouterr().out
    (record,) = records.glob("*.json")
    used = json.loads(record.read_text())["checklist"]["path"]
    assert used == str(checklists.SHIPPED / "pre-flight.yaml")

    own = repo / "checklists" / "pre-flight.yaml"
    own.parent.mkdir()
    text = (checklists.SHIPPED / "pre-flight.yaml").read_text()
    own.write_text(text.replace("version: 1", "version: 2", 1))
    record.unlink()
    assert preflight([*dry, "--answers", str(answers), "--records", str(records)]) == 0
    (record,) = records.glob("*.json")
    used = json.loads(record.read_text())["checklist"]
    assert (used["path"], used["version"]) == (str(own), 2)
    assert (repo / "budget" / "spend.jsonl").read_bytes() == b""  # a dry run writes nothing


@pytest.mark.usefixtures("file_mode")
def test_without_a_vendor_price_the_price_step_says_what_to_add(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    assert budget(["init", "--ceiling", "5"]) == 0
    argv = ["run", "--label", "lab01-x", "--estimate", "1.00", "--dry-run"]
    assert preflight([*argv, "--answers", str(answers), "--records", str(tmp_path / "r")]) == 1
    out, err = capsys.readouterr()
    assert "(80% of $5.00, the cap of the whole budget)" in out  # no caps: the ceiling is the cap
    assert "step 4 (instance-type) did not pass: there is nothing to compare it with" in err
    assert "name the vendor and its price (vendor, vendor_snapshot_prices)" in err
