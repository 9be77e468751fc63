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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from minitrain import launches, runs, vendors, watches
from minitrain._commands import run as run_command
from minitrain._secrets import redact
from minitrain._struct import Struct, replace
from minitrain.budget_guard import BudgetGuard
from minitrain.errors import InputError, NotPassed
from minitrain.money import format_usd
from minitrain.runs import MAX_HOURS, STALE_AFTER
from minitrain.vendors import runpod, vast_cap

COMMAND_TIMEOUT_S = 600
_WATCHERS: list[subprocess.Popen[bytes]] = []  # detached watchers, held for this process's life
WATCHER_ONLY = vendors.AutoTermination(
    "only while `budget watch` runs", None, "the create command sets no cap of its own"
)


class Launched(Struct, frozen=True):
    instance_id: str | None
    exit_status: int
    record: Path
    message: str
    ok: bool = False  # the vendor printed its documented success, with the id
    account: vendors.Account | None = None  # the create's own (in memory, for the watcher)


def launch(
    guard: BudgetGuard,
    *,
    label: str,
    estimate: Decimal,
    argv: Sequence[str],
    vendor: str,
    records: Path,
    run_preflight: Callable[[], object] | None = None,
    cap_hours: Decimal | None = None,
) -> Launched:
    """``run_preflight`` (a person at a terminal) runs the pre-flight when none has passed;
    ``cap_hours``: a Vast instance's on-instance cap, if shorter than the checklist's maximum."""
    if not argv:
        raise InputError("no vendor command: put it after --, e.g. -- runpodctl pod create ...")
    hours = min(cap_hours, Decimal(MAX_HOURS)) if cap_hours else Decimal(MAX_HOURS)
    # before any pre-flight or create: a refusal here costs nothing
    now = datetime.now(UTC)
    stops = runpod.auto_termination(argv, now=now, max_hours=MAX_HOURS) or WATCHER_ONLY
    _on_instance(argv, now, hours)
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
    capped = _on_instance(argv, started, hours)
    account = capped.account if capped else None
    if capped:
        stops = vendors.AutoTermination(
            f"on the instance, until {capped.until:%H:%M} UTC",
            capped.until.isoformat(),
            f"its on-start destroys it through {capped.url} with the instance's own key",
        )
    record = launches.reserve(records, started, label)
    written = launches.LaunchFile(
        label,
        started,
        preflight=preflight.name,
        command=redact(" ".join(argv)),
        auto_termination={"how": stops.how, "until": stops.until, "detail": stops.detail},
        outcome="running: the vendor command has not returned",
        account=account.named() if account else "",
    )
    launches.write(record, written)  # a kill -9 from here on leaves this behind
    ran = run_command(capped.argv if capped else argv, timeout=COMMAND_TIMEOUT_S)
    status = ran.status if ran.status is not None else (127 if ran.missing else 124)
    created = vendors.get(vendor, account).created(ran)
    # the only proofs that nothing was created: nothing ran, or the API refused the request
    nothing = ran.missing or created.refused
    if ran.missing:
        message = (
            f"the launch failed: {argv[0]} is not installed here, so nothing ran and nothing"
            f" was created; {label}'s pre-flight stays usable: install it and launch again"
        )
    elif created.refused:
        message = (
            f"the launch failed: {created.problem}; the vendor refused the request, so nothing"
            f" was created; {label}'s pre-flight stays usable: fix what it says and launch again"
        )
    elif not created.problem:
        same = " with the create's --api-key/--url" if account and account.named() else ""
        message = (
            f"launched {label}: instance {created.instance_id};"
            f" {format_usd(estimate)} stays reserved until `budget record {label} ...`;"
            f" time cap {stops.how}; watch it too with `budget watch --label {label}"
            f" --instance {created.instance_id}`{same}"
        )
    else:
        message = _after_failure(label, vendors.get(vendor, account), created)
    output = "\n".join(part for part in (ran.stdout, ran.stderr, ran.problem) if part)
    launches.write(
        record,
        replace(
            written,
            exit_status=status,
            instance_id=created.instance_id,
            output_tail=output[-4000:],
            outcome=message,
            created_nothing=nothing,
        ),
    )
    return Launched(
        created.instance_id, status, record, message, ok=not created.problem, account=account
    )


def _on_instance(argv: Sequence[str], now: datetime, hours: Decimal) -> vast_cap.Capped | None:
    """A `vastai create instance` with the cap in its on-start (to end at a whole minute)."""
    if not argv or Path(argv[0]).name != "vastai":
        return None
    until = (now + timedelta(hours=float(hours))).replace(second=0, microsecond=0)
    return vast_cap.cap(argv, until=until)


def start_watcher(
    label: str,
    instance: str,
    *,
    vendor: str,
    folder: Path,
    ledger: str,
    account: vendors.Account | None = None,
) -> tuple[Path, int]:
    """``budget watch`` for this instance, detached from this terminal, logging to a file; the
    create's account reaches it in its environment, never on its command line or in a file."""
    import os
    import sys

    log = watches.state_path(folder, label, instance).with_suffix(".log")
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
            env={**os.environ, **(account or vendors.Account()).env("VAST_API_KEY", "VAST_URL")},
        )  # outlives us
    _WATCHERS.append(child)  # never reaped here: dropped, it warns "subprocess N is still running"
    return log, child.pid


def watch_account(
    folder: Path, label: str, instance: str, *, api_key: str | None, url: str | None
) -> vendors.Account | None:
    """The account a watch of ``instance`` lists and destroys with: the flags given, else the
    environment's. Refused when its launch named an account of its own (vastai ``--api-key``,
    ``--url``) and neither a flag nor the environment gives one: the watcher would look at
    another account, where the instance is never listed."""
    import os

    for launched in launches.of_label(folder, label):
        if launched.instance_id != instance:
            continue
        for flag, given, variable in (
            ("--api-key", api_key, "VAST_API_KEY"),
            ("--url", url, "VAST_URL"),
        ):
            if flag in launched.account and not (given or os.environ.get(variable)):
                raise InputError(
                    f"{instance} was created with its own {flag} ({launched.path.name}), so"
                    f" another account than this one may own it: give the same with `budget"
                    f" watch ... {flag} ...` or ${variable}, or the watcher would not see it"
                )
    if api_key is None and url is None:
        return None
    return vendors.Account(api_key, url)


def started_at(folder: Path, label: str, instance: str, *, given: str | None = None) -> datetime:
    """When the instance began to bill: ``given``, else its launch record, else the start time
    the pre-flight noted."""
    from minitrain import cost

    if given is not None:
        return cost.parse_end(given)
    for launched in launches.of_label(folder, label):
        if launched.instance_id == instance and launched.started_at is not None:
            return launched.started_at
    return cost.authorized_start(folder, label)[1]


def _after_failure(label: str, adapter: vendors.Vendor, created: vendors.Created) -> str:
    head = f"the launch failed: {created.problem}"
    if created.instance_id:
        return (
            f"{head}; but it reported instance {created.instance_id}: it may exist and bill."
            f" Check the console, terminate it if it is there, then record its cost with"
            f" `budget record {label} USD`; the reservation stays open until then"
        )
    # An empty listing is no proof that nothing was created: `vastai` prints [] for a reply
    # it could not read, and another account's instance is not in the list (issue 22).
    try:
        listed = adapter.instances()
    except InputError as exc:
        return (
            f"{head}; the vendor's listing failed too ({exc}). The reservation stays open:"
            f" check the console, then `budget record {label} 0.00` if nothing was created"
        )
    names = ", ".join(i.describe() for i in listed) or "no instance (which proves nothing)"
    return (
        f"{head}; the account lists {names}. The reservation stays open: check the console,"
        f" terminate what should not run, then record the cost with `budget record {label} USD`"
        " (0.00 if nothing was created)"
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
    for launched in launches.of_label(folder, label):
        if launched.preflight == preflight.name and not launched.created_nothing:
            raise NotPassed(
                f"{preflight.name} was already used by {launched.path.name} ({launched.outcome});"
                " an instance may exist: list them (e.g. runpodctl pod list --all), record that"
                f" launch's cost (`budget record {label} USD`, 0.00 if nothing was created),"
                " then run a new pre-flight to launch again"
            )
