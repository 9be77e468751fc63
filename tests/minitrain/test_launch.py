"""`budget launch`: only after a passing pre-flight; runs the vendor command; never leaves a
reservation silently open."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.cli.budget import main
from minitrain.preflight.session import Options, run_checklist
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

pytestmark = pytest.mark.usefixtures("file_mode")
FAKE_BIN = REPO / "tests" / "data" / "fake-bin"
LAUNCH = ["launch", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--"]
IN_3H = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
CREATE = [
    "runpodctl",
    "pod",
    "create",
    "--name",
    "lab02",
    "--image",
    "runpod/pytorch",
    "--gpu-count",
    "2",
    "--terminate-after",
    IN_3H,
]


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "cloud.json"
    state.write_text(json.dumps({"runpod": []}))
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    return state


def ledger(lab: Path) -> Path:
    return lab / "experiments/35-cloud-budget/spend.jsonl"


def passed_preflight() -> None:
    run_checklist(Options("lab02-tp-spinup", "3.00"), terminal=FakePerson(CI_ANSWERS))


def launch_records(lab: Path) -> list[dict[str, object]]:
    folder = lab / "experiments/35-cloud-budget/preflight"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*-launch.json"))]


def test_refused_without_a_passing_preflight(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*LAUNCH, *CREATE]) == 1
    assert "no passing live pre-flight of lab02-tp-spinup for $3.00 in the last 30 minutes" in (
        capsys.readouterr().err
    )
    assert json.loads(cloud.read_text())["runpod"] == []  # nothing was created


def test_after_a_preflight_it_runs_the_command_and_keeps_the_reservation(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    assert main([*LAUNCH, *CREATE]) == 0
    out = capsys.readouterr().out
    assert "launched lab02-tp-spinup: instance pod0001; $3.00 stays reserved" in out
    assert [p["id"] for p in json.loads(cloud.read_text())["runpod"]] == ["pod0001"]
    guard = BudgetGuard(5, ledger(lab))
    assert (guard.total_spent, len(guard.status().open_operations)) == (Decimal("3.00"), 1)
    [record] = launch_records(lab)
    assert (record["exit_status"], record["instance_id"]) == (0, "pod0001")
    assert record["command"] == " ".join(CREATE)


def test_a_failed_command_with_an_empty_listing_keeps_the_reservation_open(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 22/23: an empty listing is no proof (`vastai` prints [] for a reply it could not
    read; another account's instance is not listed): the reservation stays open."""
    passed_preflight()
    fail = [sys.executable, "-c", "import sys; sys.exit('Error: no 2x RTX 4090 available')"]
    assert main([*LAUNCH, *fail]) == 1
    out = capsys.readouterr().out
    assert "no instance (which proves nothing). The reservation stays open" in out
    guard = BudgetGuard(5, ledger(lab))
    assert (guard.total_spent, len(guard.status().open_operations)) == (Decimal("3.00"), 1)


def test_a_launch_whose_cli_is_not_there_leaves_its_pre_flight_usable(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing ran, so nothing was created: the next launch attempt needs no new pre-flight."""
    passed_preflight()
    assert main([*LAUNCH, "no-such-vendor-cli", "create"]) == 1
    out = capsys.readouterr().out
    assert "no-such-vendor-cli is not installed here, so nothing ran and nothing was created" in out
    assert launch_records(lab)[0]["created_nothing"] is True
    assert main(["launch", "--", *CREATE]) == 0  # the same pre-flight, the open reservation's
    assert "launched lab02-tp-spinup: instance pod0001" in capsys.readouterr().out


def test_a_failed_command_that_reported_an_instance_keeps_it_open_and_says_so(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    half = [
        sys.executable,
        "-c",
        "import sys; print('{\"id\": \"podhalf1\"}'); sys.exit('timed out waiting for pod')",
    ]
    assert main([*LAUNCH, *half]) == 1
    out = capsys.readouterr().out
    assert "but it reported instance podhalf1: it may exist and bill" in out
    assert BudgetGuard(5, ledger(lab)).total_spent == Decimal("3.00")


def test_when_the_vendor_cannot_be_asked_the_reservation_stays_open(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    monkeypatch.setenv("PATH", str(lab))  # neither the command nor runpodctl exists
    assert main([*LAUNCH, *CREATE]) == 1
    out = capsys.readouterr().out
    assert "runpodctl is not installed here, so nothing ran and nothing was created" in out
    assert BudgetGuard(5, ledger(lab)).total_spent == Decimal("3.00")


def test_a_closed_authorization_cannot_be_launched_again(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    BudgetGuard(5, ledger(lab)).record_actual("lab02-tp-spinup", "0.00")
    assert main([*LAUNCH, *CREATE]) == 1
    assert "is no longer open" in capsys.readouterr().err


def test_no_command_is_bad_input(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(LAUNCH) == 2
    assert "no vendor command: put it after --" in capsys.readouterr().err


def test_launch_can_start_the_watcher_in_the_background(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os as _os
    import re
    import signal
    import time

    passed_preflight()
    assert main([*LAUNCH[:-1], "--watch", "--", *CREATE]) == 0
    out = capsys.readouterr().out
    pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
    log = Path(re.search(r"its log: (\S+)", out).group(1))  # type: ignore[union-attr]
    try:
        for _ in range(100):  # the watcher says what it watches, then sleeps between looks
            if "watching pod0001 (runpod) for lab02-tp-spinup" in log.read_text():
                break
            time.sleep(0.1)
        assert "watching pod0001 (runpod) for lab02-tp-spinup" in log.read_text()
    finally:
        _os.kill(pid, signal.SIGTERM)


def test_a_launch_killed_mid_command_cannot_be_repeated_blindly(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal
    import subprocess
    import time

    passed_preflight()
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    child = subprocess.Popen(
        [sys.executable, "-m", "minitrain", "budget", *LAUNCH, *slow],
        cwd=lab,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if launch_records(lab) and launch_records(lab)[0].get("command"):
                break
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # launch and the vendor command it was running
        child.wait()
    [record] = launch_records(lab)
    assert record["outcome"] == "running: the vendor command has not returned"
    assert BudgetGuard(5, ledger(lab)).status().open_operations  # still reserved
    assert main([*LAUNCH, *CREATE]) == 1
    err = capsys.readouterr().err
    assert "was already used by" in err
    assert "an instance may exist" in err
    assert json.loads(cloud.read_text())["runpod"] == []  # no second create


def test_without_a_preflight_a_person_at_a_terminal_is_walked_through_it_first(
    lab: Path, cloud: Path
) -> None:
    from minitrain import launch as launching

    guard = BudgetGuard(5, ledger(lab))
    launched = launching.launch(
        guard,
        label="lab02-tp-spinup",
        estimate=Decimal("3.00"),
        argv=CREATE,
        vendor="runpod",
        records=lab / "experiments/35-cloud-budget/preflight",
        run_preflight=passed_preflight,
    )
    assert (launched.exit_status, launched.instance_id) == (0, "pod0001")
    assert guard.total_spent == Decimal("3.00")  # one reservation: the pre-flight's


def test_a_preflight_that_does_not_pass_launches_nothing(lab: Path, cloud: Path) -> None:
    from minitrain import launch as launching
    from minitrain.errors import NotPassed

    def failing() -> None:
        run_checklist(
            Options("lab02-tp-spinup", "3.00"),
            terminal=FakePerson({**CI_ANSWERS, "budget-alert": ["9.99", "stop"]}),
        )

    with pytest.raises(NotPassed, match="budget-alert"):
        launching.launch(
            BudgetGuard(5, ledger(lab)),
            label="lab02-tp-spinup",
            estimate=Decimal("3.00"),
            argv=CREATE,
            vendor="runpod",
            records=lab / "experiments/35-cloud-budget/preflight",
            run_preflight=failing,
        )
    assert json.loads(cloud.read_text())["runpod"] == []
    assert not ledger(lab).exists()


def test_a_runpod_create_without_terminate_after_is_refused_before_anything(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 4: the flag to add is shown with the RFC3339 time computed from now."""
    passed_preflight()
    assert main([*LAUNCH, *CREATE[:-2]]) == 2
    err = capsys.readouterr().err
    assert (
        "without --terminate-after runs until someone deletes it: add `--terminate-after 20" in err
    )
    assert json.loads(cloud.read_text())["runpod"] == []  # nothing was created
    assert launch_records(lab) == []
    too_late = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main([*LAUNCH, *CREATE[:-1], too_late]) == 2
    assert "is more than 4 h from now" in capsys.readouterr().err


def test_the_launch_record_says_how_auto_termination_is_known(lab: Path, cloud: Path) -> None:
    passed_preflight()
    assert main([*LAUNCH, *CREATE]) == 0
    [record] = launch_records(lab)
    assert record["auto_termination"] == {
        "how": "by the vendor",
        "until": IN_3H,
        "detail": f"runpodctl pod create --terminate-after {IN_3H}",
    }


def test_notes_on_stderr_do_not_hide_the_id_on_stdout(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: runpodctl v2 prints `note: ...` on stderr and the pod as indented JSON on
    stdout (cmd/pod/create.go); the id is read from stdout alone."""
    passed_preflight()
    assert main([*LAUNCH, *CREATE, "--public-ip"]) == 0
    assert "launched lab02-tp-spinup: instance pod0001" in capsys.readouterr().out


def test_a_create_the_vendor_refused_is_a_failed_launch(
    lab: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    monkeypatch.setenv("FAKE_VENDOR_MODE", "401")
    assert main([*LAUNCH[:-1], "--watch", "--", *CREATE]) == 1
    captured = capsys.readouterr()
    assert (
        'the launch failed: runpodctl: api error: {"error":"Unauthorized"} (status 401)'
        in captured.out
    )
    assert "the vendor refused the request, so nothing was created" in captured.out
    assert "no watcher is running" in captured.err
    assert BudgetGuard(5, ledger(lab)).total_spent == Decimal("3.00")  # stays reserved
    assert launch_records(lab)[0]["created_nothing"] is True
    monkeypatch.delenv("FAKE_VENDOR_MODE")  # the key fixed: the same pre-flight launches
    assert main(["launch", "--", *CREATE]) == 0
    assert "launched lab02-tp-spinup: instance pod0001" in capsys.readouterr().out


def test_a_server_error_is_no_proof_and_its_pre_flight_is_spent(
    lab: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 500 may have created the pod: only a 4xx refusal or a missing CLI proves nothing was."""
    passed_preflight()
    monkeypatch.setenv("FAKE_VENDOR_MODE", "500")
    assert main([*LAUNCH, *CREATE]) == 1
    assert "refused the request" not in capsys.readouterr().out
    monkeypatch.delenv("FAKE_VENDOR_MODE")
    assert main(["launch", "--", *CREATE]) == 1
    assert "was already used by" in capsys.readouterr().err


def test_a_runpodctl_without_terminate_after_is_named_with_the_version_needed(
    lab: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    monkeypatch.setenv("FAKE_VENDOR_MODE", "no-terminate-after")
    assert main([*LAUNCH, *CREATE]) == 1
    out = capsys.readouterr().out
    assert "has no `pod create --terminate-after` (added in v2.3.0): upgrade it" in out
    assert "no instance (which proves nothing). The reservation stays open" in out
