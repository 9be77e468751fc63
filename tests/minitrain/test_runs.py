"""The run folder's files: a new name per run, which progress is offered for resuming, and
launches and watcher states read back as what they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from minitrain import launches, runs, watches
from minitrain.errors import InputError
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go, ledger, records

pytestmark = pytest.mark.usefixtures("file_mode")


def test_two_runs_in_one_second_get_two_records(lab: Path) -> None:
    go(lab, FakePerson(CI_ANSWERS), dry_run=True)
    go(lab, FakePerson(CI_ANSWERS), dry_run=True)
    assert len(records(lab)) == 2
    assert not ledger(lab).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": "2026-01-01T00:00:00+00:00"},  # stale: over 30 minutes old
        {"estimate": "2.00"},  # another estimate
        {"status": "authorized"},  # it finished
    ],
)
def test_no_resume_offered_for_stale_or_different_progress(
    lab: Path, change: dict[str, str]
) -> None:
    with pytest.raises(EOFError):
        go(lab, FakePerson({"no-other-instances": "0"}))
    [path] = (lab / "experiments/35-cloud-budget/preflight").glob("*.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    person = FakePerson(CI_ANSWERS)  # no "resume" answer: being asked would fail
    go(lab, person)
    assert person.asked[0] == "no-other-instances"


def test_a_launch_file_is_read_back_as_a_launch_never_as_a_preflight_run(tmp_path: Path) -> None:
    started = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    path = launches.reserve(tmp_path, started, "lab02-tp-spinup")
    written = launches.LaunchFile(
        "lab02-tp-spinup",
        started,
        preflight="20261128T205500Z-lab02-tp-spinup.json",
        command="runpodctl pod create",
        auto_termination={"how": "typed in the pre-flight", "until": None, "detail": ""},
        outcome="launched",
        instance_id="pod0001",
    )
    launches.write(path, written)
    assert list(runs.preflights(tmp_path, "lab02-tp-spinup")) == []
    [launch] = launches.of_label(tmp_path, "lab02-tp-spinup")
    assert (launch.preflight, launch.instance_id, launch.started_at) == (
        written.preflight,
        "pod0001",
        started,
    )


def test_a_watchers_state_is_read_back_and_a_damaged_one_is_one_message(tmp_path: Path) -> None:
    state = watches.WatchState("lab02-x", "pod0001", "runpod", "2026-11-28T21:00:00+00:00", "4")
    watches.save(tmp_path, state)
    assert watches.load(tmp_path, "lab02-x", "pod0001") == state
    assert watches.of_label(tmp_path, "lab02-x") == [state]
    watches.state_path(tmp_path, "lab02-x", "pod0001").write_text("{")
    with pytest.raises(InputError, match="the watcher's state is unreadable"):
        watches.load(tmp_path, "lab02-x", "pod0001")
