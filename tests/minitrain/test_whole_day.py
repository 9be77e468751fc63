"""The whole day with fake vendor CLIs: pre-flight, launch, hardware, the watcher at the cap,
the actual recorded; the ledger, the records and `budget status` agree at every step."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.cli.budget import main as budget
from minitrain.cli.preflight import main as preflight
from minitrain.preflight.session import Options, run_checklist
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

FAKE_BIN = REPO / "tests" / "data" / "fake-bin"
pytestmark = pytest.mark.usefixtures("file_mode")


def test_the_whole_day(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud = tmp_path / "cloud.json"
    cloud.write_text(json.dumps({"runpod": []}))
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(cloud))
    monkeypatch.setenv("FAKE_NVIDIA_SMI_DIR", str(REPO / "tests/data/nvidia-smi/2x-rtx4090-pcie"))
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"

    def status() -> dict[str, object]:
        capsys.readouterr()
        assert budget(["status", "--json", "--all"]) == 0
        return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]

    # 1. pre-flight: "no other instances" is sensed (runpodctl lists none), then authorized
    person = FakePerson(CI_ANSWERS)
    outcome = run_checklist(Options("lab02-tp-spinup", "3.00"), terminal=person)
    assert outcome.status == "authorized"
    assert "no-other-instances" not in person.asked
    assert (status()["spent"], status()["reserved"]) == ("3.00", "3.00")

    # 2. launch: the vendor creates pod0001; the reservation stays open
    assert (
        budget(
            [
                "launch",
                "--label",
                "lab02-tp-spinup",
                "--estimate",
                "3.00",
                "--",
                "runpodctl",
                "pod",
                "create",
                "--gpu-count",
                "2",
            ]
        )
        == 0
    )
    assert "instance pod0001" in capsys.readouterr().out
    assert status()["reserved"] == "3.00"

    # 3. on the instance: the hardware is what was paid for
    assert preflight(["hardware", "--gpu", "RTX 4090", "--count", "2", "--no-nvlink"]) == 0

    # 4. the watcher, started late, finds the cap passed and terminates pod0001
    launched = datetime.now(UTC) - timedelta(hours=4, minutes=5)
    assert (
        budget(
            [
                "watch",
                "--label",
                "lab02-tp-spinup",
                "--instance",
                "pod0001",
                "--start",
                launched.isoformat(),
                "--once",
            ]
        )
        == 0
    )
    assert json.loads(cloud.read_text())["runpod"] == []
    assert status()["reserved"] == "3.00"  # terminated, not yet costed

    # 5. the actual, from the pre-flight's start time to the termination
    end = datetime.now(UTC).isoformat()
    assert budget(["record", "lab02-tp-spinup", "--from-record", "--end", end]) == 0
    final = status()
    assert final["reserved"] == "0.00"
    [op] = final["operations"]  # type: ignore[misc]
    assert op["open"] is False
    assert Decimal(op["actual"]) <= Decimal("0.02")  # minutes after the pre-flight's start
    assert BudgetGuard(5, ledger).total_spent == Decimal(op["actual"])
    capsys.readouterr()
    assert budget(["verify"]) == 0

    # 6. the records tell the same story
    folder = lab / "experiments/35-cloud-budget/preflight"
    kinds = sorted(p.name.rsplit("-", 1)[-1] for p in folder.glob("[0-9]*.json"))
    assert kinds == ["launch.json", "spinup.json"]
    assert json.loads(next(folder.glob(".watch-*.json")).read_text())["ended"] == "terminated"
