"""`budget watch`: warn at 80%, terminate at the cap, continue after a restart, touch no other."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import watch, watches
from minitrain.cli.budget import main
from minitrain.watch import Look
from tests.conftest import REPO

FAKE_BIN = REPO / "tests" / "data" / "fake-bin"
START = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
POD = {"id": "pod0001", "name": "lab02", "desiredStatus": "RUNNING", "costPerHr": 0.7}
OTHER = {**POD, "id": "pod0777", "name": "someone-else"}
WATCHING, DONE, UNKNOWN = Look.WATCHING, Look.DONE, Look.UNKNOWN


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "cloud.json"
    state.write_text(json.dumps({"runpod": [POD, OTHER]}))
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    return state


def pods(cloud: Path) -> list[str]:
    return [p["id"] for p in json.loads(cloud.read_text())["runpod"]]


def start(folder: Path) -> watches.WatchState:
    return watch.load_or_start(
        folder,
        label="lab02-tp-spinup",
        instance="pod0001",
        vendor="runpod",
        start=START,
        cap_hours=Decimal("4"),
    )


def test_warns_once_at_80_percent_then_terminates_only_its_instance_at_the_cap(
    tmp_path: Path, cloud: Path
) -> None:
    said: list[str] = []
    state = start(tmp_path)
    assert watch.check(tmp_path, state, now=START + timedelta(hours=3), say=said.append) is WATCHING
    assert said == []
    assert (
        watch.check(tmp_path, state, now=START + timedelta(hours=3, minutes=13), say=said.append)
        is WATCHING
    )
    assert said == [
        "WARNING: pod0001 has run 3 h 13 min of its 4 h cap; 0 h 47 min left before"
        " the watcher terminates it"
    ]
    watch.check(tmp_path, state, now=START + timedelta(hours=3, minutes=30), say=said.append)
    assert len(said) == 1  # warned once
    assert watch.check(tmp_path, state, now=START + timedelta(hours=4), say=said.append) is DONE
    assert pods(cloud) == ["pod0777"]  # only the instance it was told about
    assert "terminated pod0001 (confirmed: no longer listed)" in said[-1]
    assert said[-1].endswith(
        "budget record lab02-tp-spinup --from-record --end 2026-11-29T00:00:00+00:00"
    )


def test_a_restarted_watcher_continues_from_its_state(tmp_path: Path, cloud: Path) -> None:
    said: list[str] = []
    watch.check(
        tmp_path, start(tmp_path), now=START + timedelta(hours=3, minutes=20), say=said.append
    )
    restarted = watch.load_or_start(
        tmp_path,
        label="lab02-tp-spinup",
        instance="pod0001",
        vendor="runpod",
        start=START + timedelta(hours=3),
        cap_hours=Decimal("9"),
    )
    assert (restarted.start, restarted.cap_hours, restarted.warned) == (START, "4", True)
    watch.check(tmp_path, restarted, now=START + timedelta(hours=3, minutes=30), say=said.append)
    assert len(said) == 1  # not warned again


def test_absence_from_a_listing_is_reported_and_never_ends_the_watch_early(
    tmp_path: Path, cloud: Path
) -> None:
    """Issue 22: "no longer listed" ended the watch, and at the cap the instance was declared
    gone without a destroy. Absence is reported once; the destroy still goes out at the cap."""
    cloud.write_text(json.dumps({"runpod": [OTHER]}))  # a glitch, or preempted: unknown
    said: list[str] = []
    state = start(tmp_path)
    for minutes in (60, 61, 62):
        looked = watch.check(
            tmp_path, state, now=START + timedelta(minutes=minutes), say=said.append
        )
        assert looked is WATCHING
    assert said == [
        "pod0001 is not listed by runpodctl since 21:00 UTC: if you ended it, record its actual"
        " (budget record lab02-tp-spinup --from-record --end TIME); until then the watcher keeps"
        " watching, and ends it at the cap"
    ]
    assert pods(cloud) == ["pod0777"]  # nothing destroyed before the cap
    # at the cap the destroy goes out; the API's own "no such pod" (404) ends the watch
    assert watch.check(tmp_path, state, now=START + timedelta(hours=4), say=said.append) is DONE
    assert said[-1].startswith("pod0001 was already gone (the API answered: no such instance)")
    assert saved(tmp_path)["ended"] == "gone"


def test_the_watch_ends_when_the_actual_is_recorded(tmp_path: Path, cloud: Path) -> None:
    said: list[str] = []
    state = start(tmp_path)
    looked = watch.check(
        tmp_path, state, now=START + timedelta(hours=1), say=said.append, closed=lambda: True
    )
    assert looked is DONE
    assert said == ["the actual of lab02-tp-spinup is recorded: the watch of pod0001 ends"]
    assert pods(cloud) == ["pod0001", "pod0777"]
    assert saved(tmp_path)["ended"] == "recorded"


def test_a_terminate_the_vendor_does_not_confirm_keeps_trying_until_a_listing_proves_it(
    tmp_path: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_VENDOR_MODE", "ghost")  # delete says ok, the pod stays
    said: list[str] = []
    state = start(tmp_path)
    assert watch.check(tmp_path, state, now=START + timedelta(hours=5), say=said.append) is UNKNOWN
    assert "terminate NOT confirmed" in said[-1]
    assert "pod0001 is past its cap and may still bill" in said[-1]
    assert saved(tmp_path)["ended"] == "unconfirmed"
    monkeypatch.setenv("FAKE_VENDOR_MODE", "")  # the next delete works
    looked = watch.check(
        tmp_path, state, now=START + timedelta(hours=5, minutes=1), say=said.append
    )
    assert looked is DONE
    assert said[-1].startswith("terminated pod0001 (confirmed: no longer listed)")
    assert saved(tmp_path)["ended"] == "terminated"


def saved(folder: Path) -> dict[str, object]:
    return json.loads(watches.state_path(folder, "lab02-tp-spinup", "pod0001").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["401", "500"])
def test_a_failed_listing_is_unknown_never_gone(
    tmp_path: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Issue 10: an outage read as "no longer listed" stopped the watcher."""
    monkeypatch.setenv("FAKE_VENDOR_MODE", mode)
    said: list[str] = []
    state = start(tmp_path)
    for minute in range(3):
        looked = watch.check(
            tmp_path, state, now=START + timedelta(hours=1, minutes=minute), say=said.append
        )
        assert looked is UNKNOWN
    assert not any("no longer listed" in line for line in said)
    assert said[0].startswith("could not list: listing RunPod pods failed")
    assert said[2].startswith("WARNING: 3 failed looks in a row; whether pod0001 still runs")
    assert saved(tmp_path)["ended"] == ""
    assert pods(cloud) == ["pod0001", "pod0777"]


def test_at_the_cap_an_outage_keeps_it_unconfirmed_then_terminates(
    tmp_path: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    state = start(tmp_path)
    watch.check(tmp_path, state, now=START + timedelta(hours=3, minutes=59), say=said.append)
    monkeypatch.setenv("FAKE_VENDOR_MODE", "500")
    cap = START + timedelta(hours=4)
    assert watch.check(tmp_path, state, now=cap, say=said.append) is UNKNOWN
    assert not any("terminated" in line for line in said)
    monkeypatch.setenv("FAKE_VENDOR_MODE", "")
    assert watch.check(tmp_path, state, now=cap + timedelta(minutes=1), say=said.append) is DONE
    assert pods(cloud) == ["pod0777"]


def test_backoff_doubles_after_failures_and_never_sleeps_past_the_cap(tmp_path: Path) -> None:
    state = start(tmp_path)
    early = START + timedelta(hours=1)
    assert watch.next_wait(state, poll_s=30, now=early) == 30
    state.failures = 3
    assert watch.next_wait(state, poll_s=30, now=early) == 240
    state.failures = 9
    assert watch.next_wait(state, poll_s=30, now=early) == 300
    assert watch.next_wait(state, poll_s=30, now=START + timedelta(hours=3, minutes=59)) == 60


def test_the_loop_keeps_watching_through_an_outage(
    tmp_path: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes = iter(["500", "", ""])
    clock = iter([START + timedelta(hours=h) for h in (1, 1.1, 1.2, 4.1)])
    slept: list[float] = []

    def now() -> datetime:
        return next(clock)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        monkeypatch.setenv("FAKE_VENDOR_MODE", next(modes))

    monkeypatch.setenv("FAKE_VENDOR_MODE", "500")
    watch.watch(tmp_path, start(tmp_path), poll_s=60, say=lambda _: None, now=now, sleep=sleep)
    assert slept == [120, 240, 60]  # backoff while it could not tell, then the poll again
    assert pods(cloud) == ["pod0777"]  # and it still terminated at the cap


def test_the_loop_polls_until_done(tmp_path: Path, cloud: Path) -> None:
    clock = iter([START + timedelta(hours=h) for h in (1, 2, 3.5, 4.1)])
    slept: list[float] = []
    said: list[str] = []
    watch.watch(
        tmp_path,
        start(tmp_path),
        poll_s=60,
        say=said.append,
        now=lambda: next(clock),
        sleep=slept.append,
    )
    assert slept == [60, 60, 60]
    assert said[0].startswith(
        "watching pod0001 (runpod) for lab02-tp-spinup: started 20:00 UTC,"
        " cap 4 h (until 00:00 UTC)"
    )
    assert pods(cloud) == ["pod0777"]


def test_cap_is_what_the_estimate_buys_at_most_four_hours() -> None:
    assert watch.cap_hours(Decimal("3.00"), Decimal("0.70"), 4) == Decimal("4")
    assert watch.cap_hours(Decimal("1.00"), Decimal("0.70"), 4) == Decimal("1.42")
    assert watch.cap_hours(Decimal("1.00"), None, 4) == Decimal("4")


@pytest.mark.usefixtures("file_mode")
def test_cli_once(lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    assert (
        main(
            [
                "watch",
                "--label",
                "lab02-tp-spinup",
                "--instance",
                "pod0001",
                "--start",
                long_ago,
                "--once",
            ]
        )
        == 0
    )
    assert "reached the 4 h cap: terminating it" in capsys.readouterr().out
    assert pods(cloud) == ["pod0777"]


@pytest.mark.usefixtures("file_mode")
def test_cli_once_exits_non_zero_when_it_could_not_tell(
    lab: Path, cloud: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_VENDOR_MODE", "401")
    argv = ["watch", "--label", "lab02-tp-spinup", "--instance", "pod0001", "--once"]
    assert main([*argv, "--start", datetime.now(UTC).isoformat()]) == 1
    assert "could not list" in capsys.readouterr().out


def test_the_default_cap_is_what_the_labels_latest_open_reservation_buys(tmp_path: Path) -> None:
    from minitrain import BudgetGuard
    from minitrain.manifest import load

    guard = BudgetGuard(5, tmp_path / "spend.jsonl")
    manifest = load(REPO / "experiments/35-cloud-budget/manifest.json")  # 2 GPUs at $0.35
    assert watch.default_cap(guard.status(), "lab02-x", manifest) == Decimal("4")  # none open
    guard.authorize("lab02-x", "1.00")
    assert watch.default_cap(guard.status(), "lab02-x", manifest) == Decimal("1.42")
    assert watch.default_cap(guard.status(), "lab02-x", None) == Decimal("4")  # no price known
    assert watch.default_cap(guard.status(), "other", manifest) == Decimal("4")
