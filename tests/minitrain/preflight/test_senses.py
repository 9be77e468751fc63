"""Sensed steps: a command (no shell, timeout, output matched), a file, the clock, headroom."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain.labs import Lab
from minitrain.preflight.checklist import Step
from minitrain.preflight.facts import Facts
from minitrain.preflight.senses import sense

FACTS = Facts(
    "lab02-tp-spinup",
    Decimal("3.00"),
    Lab("02"),
    Decimal("3.00"),
    Decimal("5.00"),
    Decimal("5.00"),
    Decimal("0.34"),
    2,
    "runpod",
    pool="02",
)


def command(*argv: str, expect: str | None = None, timeout: str = "5") -> Step:
    return Step(
        "pods",
        "sensed",
        "No pods run.",
        1,
        sense="command",
        command=argv,
        expect_stdout=expect,
        timeout=Decimal(timeout),
    )


def py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


@pytest.mark.parametrize(
    ("step", "passed", "note"),
    [
        (command(*py("print('[]')"), expect=r"^\[\]\s*$"), True, ": []"),
        (
            command(*py('print(\'[{"id": "abc"}]\')'), expect=r"^\[\]\s*$"),
            False,
            'printed \'[{"id": "abc"}]\', not what the step expects',
        ),
        (
            command(*py("import sys; sys.exit('auth failed')")),
            False,
            "failed with exit 1: auth failed",
        ),
        (
            command("no-such-vendor-cli", "pod", "list"),
            False,
            "`no-such-vendor-cli` is not installed or not on PATH",
        ),
        (
            command(*py("import time; time.sleep(5)"), timeout="0.2"),
            False,
            "did not finish within 0.2 s",
        ),
        (command(*py("print('$(rm -rf /)')"), expect=r"\$\(rm"), True, "$(rm -rf /)"),  # no shell
    ],
)
def test_command(step: Step, passed: bool, note: str) -> None:
    found = sense(step, facts=FACTS, root=Path.cwd())
    assert found.passed is passed
    assert note in found.note


def test_file(tmp_path: Path) -> None:
    step = Step("proof", "sensed", "Saved.", 1, sense="file", path="proof.png")
    assert not sense(step, facts=FACTS, root=tmp_path).passed
    (tmp_path / "proof.png").write_bytes(b"png")
    assert sense(step, facts=FACTS, root=tmp_path).passed


def test_clock_is_utc_to_the_second() -> None:
    step = Step("start", "sensed", "Start.", 1, sense="clock")
    now = datetime(2026, 11, 28, 21, 0, 5, 123456, tzinfo=UTC)
    found = sense(step, facts=FACTS, root=Path.cwd(), now=now)
    assert found.value == "2026-11-28T21:00:05+00:00"
    assert "2026-11-28 21:00:05 UTC" in found.note


@pytest.mark.parametrize(("remaining", "passed"), [("4.50", True), ("4.49", False)])
def test_headroom_boundary(remaining: str, passed: bool) -> None:
    facts = Facts(
        "x",
        Decimal("3.00"),
        Lab("02"),
        None,
        Decimal("5"),
        Decimal(remaining),
        None,
        2,
        "v",
        pool="02",
    )
    step = Step("headroom", "sensed", "Room.", 1, sense="headroom")
    assert sense(step, facts=facts, root=Path.cwd()).passed is passed


# --- "no other instances", sensed with the vendor's CLI (the fake runpodctl prints v2's formats)

INSTANCES = Step("no-other-instances", "sensed", "No instance of yours.", 1, sense="instances")


@pytest.fixture
def runpodctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    from tests.minitrain.conftest import FAKE_BIN

    state = tmp_path / "cloud.json"
    state.write_text('{"runpod": []}')
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    return state


def test_instances_none_listed_passes(runpodctl: Path, tmp_path: Path) -> None:
    found = sense(INSTANCES, facts=FACTS, root=tmp_path)
    assert (found.value, found.passed, found.note) == (
        "[]",
        True,
        "`runpodctl` lists no instance of yours",
    )


def test_instances_a_stopped_pod_fails_with_the_steps_own_advice(
    runpodctl: Path, tmp_path: Path
) -> None:
    runpodctl.write_text(
        '{"runpod": [{"id": "pod0002", "name": "lab02", "desiredStatus": "EXITED"}]}'
    )
    found = sense(INSTANCES, facts=FACTS, root=tmp_path)
    assert not found.passed
    assert found.note == "`runpodctl` lists 1 instance(s): pod0002 (lab02, EXITED)"
    assert found.fix is None  # the checklist's if_failed: terminate it in the console


@pytest.mark.parametrize("mode", ["401", "500", "v1"])
def test_instances_a_failed_listing_fails_and_says_the_check_failed(
    runpodctl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_VENDOR_MODE", mode)
    found = sense(INSTANCES, facts=FACTS, root=tmp_path)
    assert not found.passed
    assert found.note.startswith("`runpodctl` could not list your instances, so this is unknown")
    assert found.fix is not None
    assert found.fix.startswith("the check failed, not the account: fix `runpodctl`")


@pytest.mark.usefixtures("file_mode")
def test_a_failed_listing_stops_the_preflight_without_the_console_advice(
    lab: Path, runpodctl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minitrain.errors import NotPassed
    from minitrain.preflight.session import Options, run_checklist
    from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

    monkeypatch.setenv("FAKE_VENDOR_MODE", "401")
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(NotPassed) as caught:
        run_checklist(Options("lab02-tp-spinup", "3.00"), terminal=person)
    assert 'runpodctl: api error: {"error":"Unauthorized"} (status 401)' in str(caught.value)
    assert "terminate every instance in the console" not in str(caught.value)
    assert "no-other-instances" not in person.asked  # a failed check is not asked instead


@pytest.mark.usefixtures("file_mode")
def test_without_the_cli_the_person_is_asked(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minitrain.preflight.session import Options, run_checklist
    from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

    monkeypatch.setenv("PATH", str(lab))  # no runpodctl anywhere
    person = FakePerson(CI_ANSWERS)
    run_checklist(Options("lab02-tp-spinup", "3.00", dry_run=True), terminal=person)
    assert person.asked[0] == "no-other-instances"
    assert "`runpodctl` is not installed or not on PATH; so you are asked instead" in "\n".join(
        person.shown
    )
