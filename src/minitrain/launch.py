"""``budget launch``: the guarded way to start an instance.

It runs the vendor's create command only when a passing live pre-flight of the same label and
estimate finished in the last 30 minutes and its authorization is still open (that pre-flight's
gate made the one authorization; launch never reserves a second time), and, for a
``runpodctl pod create``, only when the command itself asks for an auto-termination within the
checklist's maximum. It runs the command as an argument list, keeps its output, reads the
instance id from stdout in the vendor's documented format, and writes a launch record beside the
pre-flight record. A create that printed no id, or an error (vastai exits 0 when the API refused
it), is a failed launch, and it says what is known: with a listing that proves no instance, the
reservation is closed at $0.00 (nothing was spent); otherwise it stays open and the message
names the instance to check.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from minitrain import runs, vendors
from minitrain._commands import run as run_command
from minitrain._secrets import redact
from minitrain._struct import Struct, replace
from minitrain.budget_guard import BudgetGuard
from minitrain.errors import InputError, NotPassed
from minitrain.money import format_usd
from minitrain.runs import MAX_HOURS, STALE_AFTER
from minitrain.vendors import runpod

COMMAND_TIMEOUT_S = 600
_WATCHERS: list[subprocess.Popen[bytes]] = []  # detached watchers, held for this process's life
TYPED = vendors.AutoTermination(
    "typed in the pre-flight", None, "the vendor cannot prove it from the create command"
)


class Launched(Struct, frozen=True):
    instance_id: str | None
    exit_status: int
    record: Path
    message: str
    ok: bool = False  # the vendor printed its documented success, with the id


def launch(
    guard: BudgetGuard,
    *,
    label: str,
    estimate: Decimal,
    argv: Sequence[str],
    vendor: str,
    records: Path,
    run_preflight: Callable[[], object] | None = None,
) -> Launched:
    """``run_preflight`` (a person at a terminal) runs the pre-flight when none has passed."""
    if not argv:
        raise InputError("no vendor command: put it after --, e.g. -- runpodctl pod create ...")
    # before any pre-flight or create: a refusal here costs nothing
    stops = runpod.auto_termination(argv, now=datetime.now(UTC), max_hours=MAX_HOURS) or TYPED
    try:
        preflight = _passing_preflight(records, label, estimate)
    except NotPassed:
        if run_preflight is None:
            raise
        run_preflight()  # authorizes at its gate, or raises
        preflight = _passing_preflight(records, label, estimate)
    if not any(
        op.label == label and op.estimated == estimate for op in guard.status().open_operations
    ):
        raise NotPassed(
            f"the authorization of {label!r} from {preflight.name} is no longer open"
            " (its actual was recorded); run a new pre-flight"
        )
    _refuse_second_launch(records, label, preflight)
    started = datetime.now(UTC)
    record = runs.reserve_launch(records, started, label)
    written = runs.LaunchFile(
        label,
        started,
        preflight=preflight.name,
        command=redact(" ".join(argv)),
        auto_termination={"how": stops.how, "until": stops.until, "detail": stops.detail},
        outcome="running: the vendor command has not returned",
    )
    runs.write_launch(record, written)  # a kill -9 from here on leaves this behind
    ran = run_command(argv, timeout=COMMAND_TIMEOUT_S)
    status = ran.status if ran.status is not None else (127 if ran.missing else 124)
    created = vendors.get(vendor).created(ran)
    if not created.problem:
        message = (
            f"launched {label}: instance {created.instance_id};"
            f" {format_usd(estimate)} stays reserved until `budget record {label} ...`;"
            f" watch the time cap with `budget watch --label {label}"
            f" --instance {created.instance_id}`"
        )
    elif ran.missing:  # the vendor's CLI is not here: nothing ran, so nothing was created
        message = (
            f"the launch failed: `{argv[0]}` is not installed here (or not on PATH): nothing ran,"
            f" so no instance was created. Close the reservation with `budget record {label}"
            f" 0.00`, put `{argv[0]}` on PATH, then run a new pre-flight to launch"
        )
    else:
        message = _after_failure(guard, label, vendor, created)
    output = "\n".join(part for part in (ran.stdout, ran.stderr, ran.problem) if part)
    runs.write_launch(
        record,
        replace(
            written,
            exit_status=status,
            instance_id=created.instance_id,
            output_tail=output[-4000:],
            outcome=message,
        ),
    )
    return Launched(created.instance_id, status, record, message, ok=not created.problem)


def start_watcher(
    label: str, instance: str, *, vendor: str, folder: Path, ledger: str
) -> tuple[Path, int]:
    """``budget watch`` for this instance, detached from this terminal, logging to a file."""
    import sys

    log = runs.watch_state_path(folder, label, instance).with_suffix(".log")
    argv = [
        sys.executable,
        "-m",
        "minitrain",
        "budget",
        "watch",
        "--label",
        label,
        "--instance",
        instance,
        "--vendor",
        vendor,
        "--ledger",
        str(ledger),
    ]
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # outlives us
    _WATCHERS.append(child)  # never reaped here: dropped, it warns "subprocess N is still running"
    return log, child.pid


def started_at(folder: Path, label: str, instance: str, *, given: str | None = None) -> datetime:
    """When the instance began to bill: ``given``, else its launch record, else the start time
    the pre-flight noted."""
    from minitrain import cost

    if given is not None:
        return cost.parse_end(given)
    for launched in runs.launches(folder, label):
        if launched.instance_id == instance and launched.started_at is not None:
            return launched.started_at
    return cost.authorized_start(folder, label)[1]


def _after_failure(guard: BudgetGuard, label: str, vendor: str, created: vendors.Created) -> str:
    head = f"the launch failed: {created.problem}"
    if created.instance_id:
        return (
            f"{head}; but it reported instance {created.instance_id}: it may exist and bill."
            f" Check the console, terminate it if it is there, then record its cost with"
            f" `budget record {label} USD`; the reservation stays open until then"
        )
    try:
        listed = vendors.get(vendor).instances()
    except InputError as exc:
        return (
            f"{head}; whether an instance was created is unknown ({exc}). The reservation"
            f" stays open: check the console, then `budget record {label} 0.00` if nothing"
            " was created"
        )
    if listed:
        names = ", ".join(i.describe() for i in listed)
        return (
            f"{head}; the account lists {names}. The reservation stays open: terminate what"
            f" should not run, then record the cost with `budget record {label} USD`"
        )
    guard.record_actual(label, "0.00")
    return (
        f"{head}; the vendor lists no instance, so nothing was spent: the reservation of"
        f" {label} is closed at $0.00"
    )


def _passing_preflight(folder: Path, label: str, estimate: Decimal) -> Path:
    now = datetime.now(UTC)
    for run in runs.preflights(folder, label):
        finished = run.finished()  # None: unfinished or damaged, not a pass
        if (
            finished is not None
            and now - finished < STALE_AFTER
            and run.live
            and run.status == "authorized"
            and run.estimate == str(estimate)
        ):
            return run.path
    raise NotPassed(
        f"no passing live pre-flight of {label} for {format_usd(estimate)} in the last"
        f" {int(STALE_AFTER.total_seconds() // 60)} minutes: run `preflight run --label {label}"
        f" --estimate {estimate}` first"
    )


def _refuse_second_launch(folder: Path, label: str, preflight: Path) -> None:
    """One launch per pre-flight: after a crash, launching again could start a second instance."""
    for launched in runs.launches(folder, label):
        if launched.preflight == preflight.name:
            raise NotPassed(
                f"{preflight.name} was already used by {launched.path.name} ({launched.outcome});"
                " an instance may exist: list them (e.g. runpodctl pod list --all), record that"
                f" launch's cost (`budget record {label} USD`, 0.00 if nothing was created),"
                " then run a new pre-flight to launch again"
            )
