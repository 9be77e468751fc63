"""``budget watch``: the time cap, enforced from this side too.

Warns once at 80% of the cap and, at the cap, terminates the one instance it was told about
through the vendor's CLI and confirms by listing again. Its state lives in a file beside the
records, so a restarted watcher continues (it does not warn twice, and it measures from the
same start). It never touches any other instance. If a listing that proves itself no longer
shows the instance (a spot preemption, a manual terminate), it stops and says so.

A listing that failed proves nothing: the watcher keeps watching, tries again with backoff and
warns loudly after repeated failures. At the cap it keeps trying to terminate and confirm until
a listing shows the instance gone; until then its state says ``unconfirmed``.
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
FINAL = ("terminated", "gone")


class Look(enum.Enum):
    WATCHING = "watching"  # the instance runs, under the cap
    DONE = "done"  # a listing that proves itself no longer shows it
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


def check(folder: Path, state: WatchState, *, now: datetime, say: Callable[[str], None]) -> Look:
    """One look: warn, terminate, notice the instance is gone, or say it could not tell."""
    if state.ended in FINAL:
        say(f"{state.instance} already {state.ended} at {state.ended_at}; nothing to do")
        return Look.DONE
    vendor = vendors.get(state.vendor)
    try:
        listed = {i.id for i in vendor.instances()}
    except vendors.VendorUnavailable:
        raise
    except vendors.VendorError as exc:
        if now - state.start >= state.cap or state.ended == "unconfirmed":
            return _terminate(folder, state, vendor, now, say)  # the cap waits for no listing
        return _could_not_tell(folder, state, f"could not list: {exc}", say)
    stamp = now.isoformat(timespec="seconds")
    if state.instance not in listed:
        how = "terminated" if state.ended == "unconfirmed" else "gone"
        _end(folder, state, how, now)
        said = (
            "was terminated (confirmed: no longer listed)"
            if how == "terminated"
            else f"is no longer listed by {vendor.cli} (terminated or preempted)"
        )
        say(
            f"{state.instance} {said}; record the actual:"
            f" budget record {state.label} --from-record --end {stamp}"
        )
        return Look.DONE
    elapsed = now - state.start
    if elapsed >= state.cap or state.ended == "unconfirmed":
        return _terminate(folder, state, vendor, now, say)
    state.failures = 0
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
) -> None:
    say(
        f"watching {state.instance} ({state.vendor}) for {state.label}: started"
        f" {state.start:%H:%M} UTC, cap {state.cap_hours} h (until"
        f" {state.start + state.cap:%H:%M} UTC); Ctrl-C stops watching, not the instance"
    )
    while True:
        moment = now()
        if check(folder, state, now=moment, say=say) is Look.DONE:
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
        vendors.terminate_and_confirm(vendor, state.instance)
    except vendors.VendorUnavailable:
        raise
    except vendors.VendorError as exc:
        return _could_not_tell(folder, state, f"terminate NOT confirmed: {exc}", say)
    _end(folder, state, "terminated", now)
    say(
        f"terminated {state.instance} (confirmed: no longer listed); record the actual:"
        f" budget record {state.label} --from-record --end {now.isoformat(timespec='seconds')}"
    )
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


def default_cap(status: Status, label: str, manifest: Manifest | None) -> Decimal:
    """The cap when none is given: what the label's latest open reservation buys at the
    manifest's price, never past the vendor-side auto-termination."""
    reserved = [op.charged for op in status.open_operations if op.label == label]
    hourly = manifest.price_per_gpu_hour * manifest.gpus if manifest else None
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
