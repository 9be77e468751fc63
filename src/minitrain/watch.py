"""``budget watch``: the time cap, enforced from this side too (the second line of defence).

Warns once at 80% of the cap and, at the cap, destroys the one instance it was told about
through the vendor's CLI. Its state lives in a file beside the records, so a restarted watcher
continues (it does not warn twice, and it measures from the same start). It never touches any
other instance, and it lists and destroys with the account that created the instance.

A watch ends only when the person records the actual (the reservation closes), or when the
destroy it sent at the cap was accepted, or answered with the API's own "no such instance",
and a listing no longer shows the instance. Absence from a listing proves nothing on its own (a
glitch, a listing of another account, a page without its instances): it is reported ("not
listed since HH:MM"), never ends the watch, and never brings a destroy before the cap. A listing
or destroy that failed proves nothing either: the watcher tries again with backoff and warns
loudly after repeated failures; past the cap its state says ``unconfirmed`` until it is done.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from minitrain import vendors, watches
from minitrain.runs import MAX_HOURS
from minitrain.watches import WatchState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from minitrain.budget_guard import Status
    from minitrain.manifest import Manifest

WARN_AT = Decimal("0.8")
LOUD_AFTER = 3  # failed looks in a row before the warning is loud
MAX_BACKOFF_S = 300.0
FINAL = ("terminated", "gone", "recorded")


class Look(enum.Enum):
    WATCHING = "watching"  # the instance runs, under the cap
    DONE = "done"  # ended: destroyed at the cap (accepted, then not listed), or its actual recorded
    UNKNOWN = "unknown"  # the vendor could not be asked, or a terminate is not confirmed


def load_or_start(
    folder: Path, *, label: str, instance: str, vendor: str, start: datetime, cap_hours: Decimal
) -> WatchState:
    state = watches.load(folder, label, instance)
    if state is not None:
        return state
    state = WatchState(label, instance, vendor, start.isoformat(), str(cap_hours))
    watches.save(folder, state)
    return state


def unconfirmed(folder: Path, label: str) -> list[WatchState]:
    """The watchers of ``label`` that asked for a terminate no listing has confirmed yet."""
    return [state for state in watches.of_label(folder, label) if state.ended == "unconfirmed"]


def check(
    folder: Path,
    state: WatchState,
    *,
    now: datetime,
    say: Callable[[str], None],
    account: vendors.Account | None = None,
    closed: Callable[[], bool] | None = None,
) -> Look:
    """One look: warn, destroy at the cap, report an absence, or say it could not tell.
    ``closed``: whether the reservation of the label has closed (its actual recorded)."""
    if state.ended in FINAL:
        say(f"{state.instance} already {state.ended} at {state.ended_at}; nothing to do")
        return Look.DONE
    if closed is not None and closed():
        _end(folder, state, "recorded", now)
        say(f"the actual of {state.label} is recorded: the watch of {state.instance} ends")
        return Look.DONE
    vendor = vendors.get(state.vendor, account)
    elapsed = now - state.start
    if elapsed >= state.cap or state.ended == "unconfirmed":
        return _terminate(folder, state, vendor, now, say)  # the cap waits for no listing
    try:
        listed = {i.id for i in vendor.instances()}
    except vendors.VendorUnavailable:
        raise
    except vendors.VendorError as exc:
        return _could_not_tell(folder, state, f"could not list: {exc}", say)
    state.failures = 0
    if state.instance not in listed:
        if not state.missing_since:
            state.missing_since = now.isoformat(timespec="seconds")
            say(
                f"{state.instance} is not listed by {vendor.cli} since {now:%H:%M} UTC: if you"
                f" ended it, record its actual (budget record {state.label} --from-record --end"
                f" TIME); until then the watcher keeps watching, and ends it at the cap"
            )
        watches.save(folder, state)
        return Look.WATCHING
    if state.missing_since:
        say(f"{state.instance} is listed again")
        state.missing_since = ""
    if elapsed >= state.cap * float(WARN_AT) and not state.warned:
        state.warned = True
        left = state.cap - elapsed
        say(
            f"WARNING: {state.instance} has run {_hours(elapsed)} of its {state.cap_hours} h cap;"
            f" {_hours(left)} left before the watcher terminates it"
        )
    watches.save(folder, state)
    return Look.WATCHING


def watch(
    folder: Path,
    state: WatchState,
    *,
    poll_s: float,
    say: Callable[[str], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    account: vendors.Account | None = None,
    closed: Callable[[], bool] | None = None,
) -> None:
    say(
        f"watching {state.instance} ({state.vendor}) for {state.label}: started"
        f" {state.start:%H:%M} UTC, cap {state.cap_hours} h (until"
        f" {state.start + state.cap:%H:%M} UTC); Ctrl-C stops watching, not the instance"
    )
    while True:
        moment = now()
        looked = check(folder, state, now=moment, say=say, account=account, closed=closed)
        if looked is Look.DONE:
            return
        sleep(next_wait(state, poll_s=poll_s, now=moment))


def next_wait(state: WatchState, *, poll_s: float, now: datetime) -> float:
    """The poll interval, doubled for each failed look in a row (at most MAX_BACKOFF_S), and
    never sleeping past the cap."""
    wait: float = min(poll_s * 2.0**state.failures, max(poll_s, MAX_BACKOFF_S))
    to_cap = (state.start + state.cap - now).total_seconds()
    return min(wait, to_cap) if to_cap > 1 else wait


def _terminate(
    folder: Path,
    state: WatchState,
    vendor: vendors.Vendor,
    now: datetime,
    say: Callable[[str], None],
) -> Look:
    if state.ended != "unconfirmed":
        say(f"{state.instance} reached the {state.cap_hours} h cap: terminating it")
        _end(folder, state, "unconfirmed", now)
    try:
        gone = vendors.terminate_and_confirm(vendor, state.instance)
    except vendors.VendorUnavailable:
        raise
    except vendors.VendorError as exc:
        return _could_not_tell(folder, state, f"terminate NOT confirmed: {exc}", say)
    _end(folder, state, "gone" if gone else "terminated", now)
    said = (
        f"{state.instance} was already gone (the API answered: no such instance)"
        if gone
        else f"terminated {state.instance} (confirmed: no longer listed)"
    )
    stamp = now.isoformat(timespec="seconds")
    say(f"{said}; record the actual: budget record {state.label} --from-record --end {stamp}")
    return Look.DONE


def _could_not_tell(
    folder: Path, state: WatchState, problem: str, say: Callable[[str], None]
) -> Look:
    state.failures += 1
    watches.save(folder, state)
    stake = (
        f"{state.instance} is past its cap and may still bill"
        if state.ended == "unconfirmed"
        else f"whether {state.instance} still runs is unknown"
    )
    if state.failures == LOUD_AFTER or (state.failures > LOUD_AFTER and state.failures % 10 == 0):
        say(
            f"WARNING: {state.failures} failed looks in a row; {stake}. The watcher keeps"
            f" trying; check the console now. Last: {problem}"
        )
    else:
        say(f"{problem}; {stake}: trying again")
    return Look.UNKNOWN


def reservation_open(status: Status, label: str) -> bool:
    return any(op.label == label for op in status.open_operations)


def default_cap(status: Status, label: str, manifest: Manifest | None) -> Decimal:
    """The cap when none is given: what the label's latest open reservation buys at the
    manifest's price, never past the vendor-side auto-termination."""
    reserved = [op.charged for op in status.open_operations if op.label == label]
    price = manifest.price_per_gpu_hour if manifest else None
    hourly = price * manifest.gpus if manifest and price is not None else None
    return cap_hours(reserved[-1], hourly, MAX_HOURS) if reserved else Decimal(MAX_HOURS)


def cap_hours(estimate: Decimal, hourly: Decimal | None, max_hours: int) -> Decimal:
    """What the reservation pays for, and never past the vendor-side auto-termination."""
    if not hourly:
        return Decimal(max_hours)
    return min(Decimal(max_hours), (estimate / hourly).quantize(Decimal("0.01"), ROUND_DOWN))


def _end(folder: Path, state: WatchState, how: str, now: datetime) -> None:
    state.ended, state.ended_at = how, now.isoformat(timespec="seconds")
    watches.save(folder, state)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"
