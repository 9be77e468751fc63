"""The 4-hour cap on the Vast.ai instance itself (issue 22): the real `vastai` sends it in the
create's on-start; the cap's script, run by `sh` against the stand-in API, ends the instance;
forms it cannot join are refused before anything runs; the create's own account is the one the
watcher uses, and it is never written down."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minitrain.cli.budget import main as budget
from minitrain.errors import InputError
from minitrain.preflight.session import Options, run_checklist
from minitrain.vendors import vast_cap
from tests.conftest import REPO
from tests.minitrain.conftest import vast_lab
from tests.minitrain.preflight.conftest import FakePerson
from tests.minitrain.test_whole_day import LABEL, VAST_ANSWERS, VAST_CREATE
from tests.vast_api import VastApi

pytestmark = pytest.mark.usefixtures("file_mode")
UNTIL = datetime(2026, 11, 29, 1, 42, tzinfo=UTC)
LAUNCH = ["launch", "--label", LABEL, "--estimate", "3.00", "--"]
INSTANCE_KEY = "instance-key-not-real-0009"


def launched(lab: Path) -> dict[str, object]:
    folder = lab / "experiments/35-cloud-budget/preflight"
    [record] = [json.loads(p.read_text()) for p in folder.glob("*-launch.json")]
    return record  # type: ignore[no-any-return]


def test_the_create_the_real_vastai_sends_carries_the_cap(
    lab: Path, vast: VastApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vast_lab(lab)
    run_checklist(Options(LABEL, "3.00"), terminal=FakePerson(VAST_ANSWERS))
    mine = tmp_path / "start.sh"
    mine.write_text("python train.py &\n")
    create = [*VAST_CREATE, "--onstart-cmd", "echo replaced", "--onstart", str(mine)]
    before = datetime.now(UTC)
    assert budget([*LAUNCH, *create]) == 0
    [body] = vast.bodies
    onstart = body["onstart"]
    assert onstart.startswith("# budget launch: this instance ends itself at ")
    assert onstart.endswith("\npython train.py &\n")  # --onstart's file, as vastai would send
    assert "echo replaced" not in onstart  # vastai lets --onstart override --onstart-cmd
    until = int(onstart.split("BUDGET_CAP_UNTIL=")[1].split("\n")[0])
    assert timedelta(hours=3, minutes=58) < datetime.fromtimestamp(until, UTC) - before
    assert datetime.fromtimestamp(until, UTC) - before <= timedelta(hours=4)
    assert f"A='{vast.url}'" in onstart  # the same API server the CLI used
    how = launched(lab)["auto_termination"]["how"]  # type: ignore[index]
    assert how == f"on the instance, until {datetime.fromtimestamp(until, UTC):%H:%M} UTC"
    assert f"time cap {how}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--args", "-c", "sleep infinity"], "args mode"),
        (["--template_hash", "661d064b"], "template may carry an on-start of its own"),
        (["--onstart-cmd", "x" * 3500], "over Vast's limit of 4048"),
        (["--onst", "x"], "ambiguous option"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_forms_the_cap_cannot_join_are_refused(extra: list[str], why: str) -> None:
    with pytest.raises(InputError, match=why):
        vast_cap.cap([*VAST_CREATE, *extra], until=UNTIL)
    with pytest.raises(InputError, match="not one instance"):
        vast_cap.cap(["vastai", "create", "instances", "1", "2"], until=UNTIL)
    assert vast_cap.cap(["vastai", "show", "instances"], until=UNTIL) is None


def test_an_entrypoint_and_abbreviated_options_are_read_as_argparse_reads_them() -> None:
    capped = vast_cap.cap(
        ["vastai", "--api-key", "k-0001", *VAST_CREATE[1:], "--entrypoint", "run.sh", "--lab", "x"],
        until=UNTIL,
    )
    assert capped is not None
    assert capped.argv[-1].endswith("\nrun.sh")
    assert capped.account.api_key == "k-0001"
    assert capped.argv[:3] == ["vastai", "--api-key", "k-0001"]


@pytest.fixture
def cap_dir(tmp_path: Path) -> Iterator[Path]:
    """The folder the cap writes its pid file to; a cap still running after the test (one
    that failed) is ended by that pid, so it never outlives the test."""
    yield tmp_path
    pid_file = tmp_path / vast_cap.PID_FILE
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def run_cap(vast: VastApi, tmp_path: Path, *, until: datetime, path: str) -> None:
    """The cap as the instance runs it: `sh`, with the instance's id and key in its
    environment; its pid and log files go to $TMPDIR."""
    script = vast_cap.script(until, vast.url)
    env = {
        "PATH": path,
        "TMPDIR": str(tmp_path),
        "CONTAINER_ID": "7835610",
        "CONTAINER_API_KEY": INSTANCE_KEY,
    }
    subprocess.run([shutil.which("sh") or "/bin/sh", "-c", script], env=env, check=True, timeout=30)


def wait_gone(vast: VastApi, tmp_path: Path) -> None:
    deadline = time.monotonic() + 60  # a generous limit that only catches a hang
    while vast.instances and time.monotonic() < deadline:
        time.sleep(0.2)
    assert vast.instances == [], (tmp_path / "budget-cap.log").read_text()


def test_the_caps_script_ends_the_instance_through_the_api(vast: VastApi, cap_dir: Path) -> None:
    tmp_path = cap_dir
    vast.instances = [{"id": 7835610, "label": "lab02", "actual_status": "running"}]
    vast.accounts[INSTANCE_KEY] = vast.instances  # the instance's key: its own account
    run_cap(vast, tmp_path, until=datetime.now(UTC) + timedelta(seconds=2), path=os.defpath)
    pid, _ = (tmp_path / "budget-cap.pid").read_text().split()
    assert int(pid) > 0
    assert vast.instances  # not before the cap
    wait_gone(vast, tmp_path)
    assert vast.calls[-1] == "DELETE /api/v0/instances/7835610/"
    log = tmp_path / "budget-cap.log"
    deadline = time.monotonic() + 30  # the script writes its line after the API answered
    while "cap: DELETE accepted" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "cap: DELETE accepted" in log.read_text()


def test_an_image_without_curl_or_wget_falls_back_to_python3(vast: VastApi, tmp_path: Path) -> None:
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    for tool in ("sh", "date", "sleep", "tr", "sed", "head"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bare / tool).symlink_to(found)
    (bare / "python3").symlink_to(Path(sys.executable).resolve())  # the interpreter, not a shim
    vast.instances = [{"id": 7835610, "label": "lab02", "actual_status": "running"}]
    vast.accounts[INSTANCE_KEY] = vast.instances
    run_cap(vast, tmp_path, until=datetime.now(UTC) - timedelta(minutes=1), path=str(bare))
    wait_gone(vast, tmp_path)  # a restart after the cap: it ends at once


def test_the_creates_account_is_the_watchers_and_is_never_written(
    lab: Path, vast: VastApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    team = "team-key-not-real-0002"
    vast.accounts[team] = []
    vast_lab(lab)
    run_checklist(Options(LABEL, "3.00"), terminal=FakePerson(VAST_ANSWERS))
    assert budget([*LAUNCH, "vastai", "--api-key", team, *VAST_CREATE[1:]]) == 0
    assert [row["id"] for row in vast.accounts[team]] == [7835610]
    folder = lab / "experiments/35-cloud-budget/preflight"
    for path in folder.iterdir():
        assert team not in path.read_text(), path.name
    assert launched(lab)["account"] == "--api-key (its key is not kept)"
    monkeypatch.delenv("VAST_API_KEY")
    capsys.readouterr()
    watch = ["watch", "--label", LABEL, "--instance", "7835610", "--once"]
    assert budget(watch) == 2
    assert "was created with its own --api-key" in capsys.readouterr().err
    assert budget([*watch, "--api-key", team]) == 0
    assert "not listed" not in capsys.readouterr().out  # it looked at the team's account


def post_start_check(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import yaml

    steps = yaml.safe_load((REPO / "checklists/post-start.yaml").read_text())["steps"]
    [command] = [step["command"] for step in steps if step["id"] == "time-cap"]
    assert vast_cap.PID_FILE in command[-1]  # the file the cap writes
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=30)


def test_the_post_start_check_sees_the_cap_running_not_only_set(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / vast_cap.PID_FILE).write_text(f"{sleeper.pid} 1795916520\n")
        running = post_start_check(tmp_path)
        assert (running.returncode, running.stdout.split(",")[0]) == (
            0,
            f"time cap running on the instance (pid {sleeper.pid})",
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    ended = post_start_check(tmp_path)
    assert ended.returncode == 1
    assert "the time cap is NOT running on this instance" in ended.stdout
