"""``budget watch``: the time cap, enforced from this side too.

Warns once at 80% of the cap and, at the cap, terminates the one instance it was told about
through the vendor's CLI and confirms by listing again. Its state lives in a file beside the
records, so a restarted watcher continues (it does not warn twice, and it measures from the
same start). It never touches any other instance. If the instance disappears on its own (a spot
preemption, a manual terminate), it stops and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from minitrain import vendors
from minitrain.errors import InputError
from minitrain.preflight.record import safe_label

WARN_AT = Decimal("0.8")


@dataclass
class WatchState:
    label: str
    instance: str
    vendor: str
    started_at: str  # when the instance started billing (UTC ISO)
    cap_hours: str
    warned: bool = False
    ended: str = ""  # "", "terminated" or "gone"
    ended_at: str = ""

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    @property
    def cap(self) -> timedelta:
        return timedelta(hours=float(self.cap_hours))


def state_path(folder: Path, label: str, instance: str) -> Path:
    return folder / f".watch-{safe_label(label)}-{safe_label(instance)}.json"


def load_or_start(
    folder: Path, *, label: str, instance: str, vendor: str, start: datetime, cap_hours: Decimal
) -> WatchState:
    path = state_path(folder, label, instance)
    if path.exists():
        try:
            return WatchState(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{path}: the watcher's state is unreadable ({exc}); move it aside to start over"
            ) from None
    state = WatchState(label, instance, vendor, start.isoformat(), str(cap_hours))
    save(folder, state)
    return state


def save(folder: Path, state: WatchState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = state_path(folder, state.label, state.instance)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    temp.replace(path)


def check(folder: Path, state: WatchState, *, now: datetime, say: Callable[[str], None]) -> bool:
    """One look: warn, terminate or notice the instance is gone. True when watching is over."""
    if state.ended:
        say(f"{state.instance} already {state.ended} at {state.ended_at}; nothing to do")
        return True
    vendor = vendors.get(state.vendor)
    listed = {i.id for i in vendor.instances()}
    if state.instance not in listed:
        _end(folder, state, "gone", now)
        say(
            f"{state.instance} is no longer listed by {vendor.cli} (terminated or preempted);"
            f" record the actual: budget record {state.label} --from-record --end"
            f" {now.isoformat(timespec='seconds')}"
        )
        return True
    elapsed = now - state.start
    if elapsed >= state.cap:
        say(f"{state.instance} reached the {state.cap_hours} h cap: terminating it")
        vendors.terminate_and_confirm(vendor, state.instance)
        _end(folder, state, "terminated", now)
        say(
            f"terminated {state.instance} (confirmed: no longer listed); record the actual:"
            f" budget record {state.label} --from-record --end {now.isoformat(timespec='seconds')}"
        )
        return True
    if elapsed >= state.cap * float(WARN_AT) and not state.warned:
        state.warned = True
        save(folder, state)
        left = state.cap - elapsed
        say(
            f"WARNING: {state.instance} has run {_hours(elapsed)} of its {state.cap_hours} h cap;"
            f" {_hours(left)} left before the watcher terminates it"
        )
    return False


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
    while not check(folder, state, now=now(), say=say):
        sleep(poll_s)


def cap_hours(estimate: Decimal, hourly: Decimal | None, max_hours: int) -> Decimal:
    """What the reservation pays for, and never past the vendor-side auto-termination."""
    if not hourly:
        return Decimal(max_hours)
    return min(Decimal(max_hours), (estimate / hourly).quantize(Decimal("0.01"), ROUND_DOWN))


def _end(folder: Path, state: WatchState, how: str, now: datetime) -> None:
    state.ended, state.ended_at = how, now.isoformat(timespec="seconds")
    save(folder, state)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"
