"""The run folder's files: a new name per run, which progress is offered for resuming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
