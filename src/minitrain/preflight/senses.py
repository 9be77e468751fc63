"""What the runner checks itself instead of asking: the guard, the clock, a command, a file."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from minitrain import hardware, vendors
from minitrain._commands import run as run_command
from minitrain._struct import Struct
from minitrain.errors import InputError
from minitrain.money import format_usd
from minitrain.preflight.checklist import Step
from minitrain.preflight.facts import HEADROOM, Facts

DEFAULT_TIMEOUT = 20.0


class Sensed(Struct, frozen=True):
    value: str  # what goes into the record
    passed: bool
    note: str  # what the person is shown
    fix: str | None = None  # what to do when it failed, instead of the step's if_failed


def sense(step: Step, *, facts: Facts, root: Path, now: datetime | None = None) -> Sensed:
    if step.sense == "headroom":
        return _headroom(facts)
    if step.sense == "clock":
        stamp = (now or datetime.now(UTC)).replace(microsecond=0)
        return Sensed(stamp.isoformat(), True, f"start time {stamp:%Y-%m-%d %H:%M:%S} UTC: note it")
    if step.sense == "command":
        return _command(step)
    if step.sense == "hardware":
        return _hardware(facts)
    if step.sense == "instances":
        return _instances(facts.vendor, facts.account)
    assert step.path is not None  # the loader requires it of a file step
    found = (root / step.path).is_file()
    return Sensed(str(step.path), found, f"{step.path} {'exists' if found else 'is missing'}")


def _instances(vendor_name: str, account: vendors.Account | None = None) -> Sensed:
    """None of this account's instances may exist, running or stopped (``account``: the one
    the create will name, issue 22). Raises VendorUnavailable when the vendor's CLI is not
    installed: the runner then asks the person instead. A listing that did not prove itself
    fails the step: it says nothing about the account."""
    vendor = vendors.get(vendor_name, account)
    try:
        found = vendor.instances()
    except vendors.VendorUnavailable:
        raise
    except vendors.VendorError as exc:
        return Sensed(
            "",
            False,
            f"`{vendor.cli}` could not list your instances, so this is unknown: {exc}",
            fix=f"the check failed, not the account: fix `{vendor.cli}` (its API key, the"
            " network), then rerun",
        )
    if not found:
        return Sensed("[]", True, f"`{vendor.cli}` lists no instance of yours")
    listed = ", ".join(i.describe() for i in found)
    return Sensed(listed, False, f"`{vendor.cli}` lists {len(found)} instance(s): {listed}")


def _hardware(facts: Facts) -> Sensed:
    """The GPUs against the manifest's target. Without nvidia-smi this is not the instance: the
    advice is where to run the check, never to terminate. With no target yet (lab 02 fills it
    in), what was found is recorded and passes: there is nothing it could differ from."""
    try:
        found = hardware.read()
    except hardware.NotOnAnInstance:
        return Sensed(
            "",
            False,
            "nvidia-smi is not installed here, so this is not the GPU instance",
            fix="this step reads the GPUs of the instance itself: in a shell on the instance"
            " (the vendor console's SSH or web terminal), with this project installed, run"
            f" `preflight run --checklist checklists/post-start.yaml --label {facts.label}"
            f" --estimate {facts.estimate}` (or `preflight hardware`, which needs no ledger)",
        )
    except InputError as exc:
        return Sensed("", False, str(exc))
    if facts.hardware is None:
        return Sensed(
            found.describe(),
            True,
            f"found {found.describe()}; the manifest's hardware_target is not filled in yet"
            " (lab 02 fills it in), so nothing was compared: what was found is recorded",
        )
    problems = hardware.compare(found, facts.hardware)
    if problems:
        return Sensed(
            found.describe(),
            False,
            f"paid for {facts.hardware.describe()}; found"
            f" {found.describe()} ({'; '.join(problems)})",
        )
    return Sensed(found.describe(), True, f"{found.describe()}, as paid for")


def _headroom(facts: Facts) -> Sensed:
    ok = facts.remaining >= facts.needed
    relation = ">=" if ok else "<"
    note = (
        f"remaining {format_usd(facts.remaining)} {relation} needed {format_usd(facts.needed)}"
        f" (estimate {format_usd(facts.estimate)} + {int((HEADROOM - 1) * 100)}%)"
    )
    return Sensed(str(facts.remaining), ok, note)


def _command(step: Step) -> Sensed:
    timeout = float(step.timeout) if step.timeout is not None else DEFAULT_TIMEOUT
    ran = run_command(step.command, timeout=timeout)
    if ran.problem:
        return Sensed("", False, ran.problem)
    output = ran.stdout.strip()  # shown on screen and kept in the record
    first = output.splitlines()[0][:120] if output else "(no output)"
    if not ran.ok:
        return Sensed(
            output, False, f"`{ran.shown}` failed with exit {ran.status}: {ran.first_error_line()}"
        )
    if step.expect_stdout is not None and not re.search(step.expect_stdout, ran.stdout):
        return Sensed(output, False, f"`{ran.shown}` printed {first!r}, not what the step expects")
    return Sensed(output, True, f"`{ran.shown}`: {first}")
