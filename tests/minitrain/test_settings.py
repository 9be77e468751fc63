"""Which manifest governs a ledger (issue 21, "a ledger keeps its caps wherever it is used
from"): the one beside a JSONL ledger, never one found from the working folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from minitrain import InputError, settings
from minitrain.cli.budget import main as budget
from tests.conftest import REAL_MANIFEST

NO_CAPS = "has no manifest.json beside it: no lab caps apply, only the ceiling $5.00"


@pytest.fixture
def elsewhere(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no repository above it (not inside the test's own folder, which is
    the `lab`): what `cd /` was in the issue."""
    folder = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.usefixtures("file_mode", "elsewhere")
@pytest.mark.parametrize("ceiling", [["--ceiling", "5"], []], ids=["flag", "environment"])
def test_a_ledger_keeps_the_caps_of_the_manifest_beside_it_from_any_folder(
    ceiling: list[str],
    lab: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's reproduction: `cd / && LYNX_CLOUD_BUDGET_USD=5.00 budget --ledger
    <repo>/experiments/35-cloud-budget/spend.jsonl authorize lab03-train 5.00` authorized."""
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", "5.00")
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    assert budget(["--ledger", str(ledger), *ceiling, "authorize", "lab03-train", "5.00"]) == 3
    assert "would exceed the lab 03 cap $0.00" in capsys.readouterr().err
    assert not ledger.exists()
    assert budget(["--ledger", str(ledger), *ceiling, "authorize", "lab02-x", "3.00"]) == 0
    assert NO_CAPS not in capsys.readouterr().err


@pytest.mark.usefixtures("file_mode")
def test_a_symlinked_ledger_is_governed_by_the_manifest_beside_the_file(
    lab: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = lab / "experiments/35-cloud-budget/spend.jsonl"
    real.touch()
    link = elsewhere / "spend.jsonl"
    link.symlink_to(real)
    assert budget(["--ledger", str(link), "authorize", "lab03-train", "0.01"]) == 3
    assert "lab 03 cap" in capsys.readouterr().err


@pytest.mark.usefixtures("file_mode")
def test_the_working_folder_s_manifest_never_governs_another_ledger(
    lab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From inside the repository, a ledger elsewhere is not capped by the repository's
    manifest: it has none of its own, so it needs an explicit ceiling, and says so."""
    other = tmp_path / "other" / "spend.jsonl"
    other.parent.mkdir()
    assert budget(["--ledger", str(other), "authorize", "x", "1.00"]) == 2
    err = capsys.readouterr().err
    assert f"no ceiling: the ledger {other} has no manifest.json beside it" in err
    assert "pass --ceiling USD, or set LYNX_CLOUD_BUDGET_USD" in err
    assert not other.exists()


@pytest.mark.usefixtures("file_mode", "elsewhere")
def test_every_write_to_a_ledger_without_a_manifest_says_it_has_no_caps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    args = ["--ledger", str(ledger), "--ceiling", "5"]
    assert budget(["authorize", "lab03-x", "1.00", *args]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("authorized lab03-x $1.00")
    assert err == f"budget: warning: the ledger {ledger} {NO_CAPS} (--ceiling)\n"
    assert budget(["record", "lab03-x", "0.80", *args]) == 0
    assert NO_CAPS in capsys.readouterr().err
    assert budget(["status", *args]) == 0  # a read says nothing
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("file_mode")
def test_a_manifest_other_than_the_ledger_s_own_is_refused(
    lab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    loose = tmp_path / "loose"
    loose.mkdir()
    data = json.loads(REAL_MANIFEST.read_text())
    (loose / "manifest.json").write_text(json.dumps({**data, "ceiling_per_lab": {}}))
    argv = ["--ledger", str(ledger), "--manifest", str(loose / "manifest.json"), "status"]
    assert budget(argv) == 2
    err = capsys.readouterr().err
    assert f"--manifest {loose / 'manifest.json'} is not the manifest of the ledger {ledger}" in err
    assert (
        budget(
            ["--ledger", str(ledger), "--manifest", str(ledger.parent / "manifest.json"), "status"]
        )
        == 0
    )


def test_a_manifest_that_names_a_ledger_away_from_it_does_not_cap_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest found from the working folder only says where its ledger is; the caps are
    those beside the ledger, so the ledger has the same caps from any folder."""
    folder = tmp_path / "experiments" / "35-cloud-budget"
    folder.mkdir(parents=True)
    data = json.loads(REAL_MANIFEST.read_text())
    (folder / "manifest.json").write_text(
        json.dumps({**data, "spend_log_path": "books/spend.jsonl"})
    )
    resolved = settings.resolve(ceiling="5")
    assert resolved.ledger_path == str(tmp_path / "books" / "spend.jsonl")
    assert resolved.manifest is None
    with pytest.raises(InputError, match=r"no manifest\.json beside it"):
        settings.resolve().guard()


def test_a_database_ledger_keeps_the_manifest_of_the_working_folder(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYNX_LEDGER_URL", "postgresql://lab@127.0.0.1:1/books")
    resolved = settings.resolve(ledger=str(tmp_path / "x" / "spend.jsonl"))
    assert resolved.manifest is not None
    assert resolved.manifest.path == str(lab / "experiments/35-cloud-budget/manifest.json")


def test_the_ledger_s_own_manifest_is_found_beside_it(lab: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(lab / "experiments", copy)
    resolved = settings.resolve(ledger=str(copy / "35-cloud-budget" / "spend.jsonl"))
    assert resolved.manifest is not None
    assert resolved.manifest.path == str(copy / "35-cloud-budget" / "manifest.json")
    assert resolved.ceiling_source == f"manifest {resolved.manifest.path}"
