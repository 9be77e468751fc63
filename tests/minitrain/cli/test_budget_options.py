"""Small things a tired person tries first: --version, options before the command (as git and
docker take them), every number of the text in --json, and a --png that cannot be drawn."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest

from minitrain.cli import budget, preflight

pytestmark = pytest.mark.usefixtures("file_mode")


@pytest.mark.parametrize("tool", [budget, preflight], ids=["budget", "preflight"])
def test_version(tool: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        tool.main(["--version"])  # type: ignore[attr-defined]
    assert exited.value.code == 0
    name = tool.__name__.rsplit(".", 1)[1]
    assert capsys.readouterr().out == f"{name} {metadata.version('minitrain-preflight')}\n"


def test_options_before_the_command(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert budget.main(["--ledger", "x.jsonl", "--ceiling", "4.00", "authorize", "a", "1"]) == 0
    capsys.readouterr()
    assert budget.main(["--ledger", "x.jsonl", "--json", "status", "--ceiling", "4.00"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["ledger"], data["spent"], data["remaining"]) == ("x.jsonl", "1.00", "3.00")
    # after the command, an option given again wins; left out, the one before it stays
    assert budget.main(["--ceiling", "9.00", "status", "--ledger", "x.jsonl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ceiling"] == "9.00"


def test_status_json_has_each_labs_remaining(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert budget.main(["authorize", "lab02-tp-spinup", "1.25"]) == 0
    capsys.readouterr()
    assert budget.main(["status"]) == 0
    assert "02          $3.00    $1.25      $1.75" in capsys.readouterr().out
    assert budget.main(["status", "--json"]) == 0
    labs = json.loads(capsys.readouterr().out)["labs"]
    assert labs[0] == {
        "lab": "02",
        "cap": "3.00",
        "spent": "1.25",
        "reserved": "1.25",
        "actual": "0.00",
        "remaining": "1.75",
    }
    assert budget.main(["report", "--json"]) == 0  # issue 25: one shape in both
    assert json.loads(capsys.readouterr().out)["labs"] == labs


def test_report_png_without_matplotlib_fails_before_printing(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert budget.main(["report", "--png", "chart.png"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "budget: error: --png needs matplotlib: pip install 'minitrain-preflight[chart]'\n"
    )
    assert not Path("chart.png").exists()
