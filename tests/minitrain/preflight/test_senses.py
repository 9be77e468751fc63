"""Sensed steps: a command (no shell, timeout, output matched), a file, the clock, headroom."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain.preflight.checklist import Step
from minitrain.preflight.facts import Facts
from minitrain.preflight.senses import sense

FACTS = Facts(
    "lab02-tp-spinup",
    Decimal("3.00"),
    "02",
    Decimal("3.00"),
    Decimal("5.00"),
    Decimal("5.00"),
    Decimal("0.34"),
    2,
    "runpod",
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
    facts = Facts("x", Decimal("3.00"), "02", None, Decimal("5"), Decimal(remaining), None, 2, "v")
    step = Step("headroom", "sensed", "Room.", 1, sense="headroom")
    assert sense(step, facts=facts, root=Path.cwd()).passed is passed
