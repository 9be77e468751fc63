"""Watcher states in the run folder: what ``budget watch`` remembers between looks.

A watcher keeps its state in a hidden ``.watch-<label>-<instance>.json`` (hidden, so the
listings of pre-flight runs and launches never see it), rewritten after each look, so a
restarted watcher continues where it stopped. This is the only module that knows that name and
the state's JSON keys.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from minitrain import run_folder
from minitrain._struct import Struct, asdict
from minitrain.errors import InputError

PREFIX = ".watch-"


class WatchState(Struct):
    """A watcher's state; the watcher updates it in place and saves it after each look."""

    label: str
    instance: str
    vendor: str
    started_at: str  # when the instance started billing (UTC ISO)
    cap_hours: str
    warned: bool = False
    # "", "unconfirmed" (destroy sent, not yet accepted and confirmed), "terminated" (accepted,
    # then not listed), "gone" (the API answered no such instance), "recorded" (the actual is)
    ended: str = ""
    ended_at: str = ""
    failures: int = 0  # failed looks in a row
    missing_since: str = ""  # when a listing first did not show it (reported, proves nothing)

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    @property
    def cap(self) -> timedelta:
        return timedelta(hours=float(self.cap_hours))


def state_path(folder: Path, label: str, instance: str) -> Path:
    return folder / f"{PREFIX}{run_folder.safe_label(label)}-{run_folder.safe_label(instance)}.json"


def load(folder: Path, label: str, instance: str) -> WatchState | None:
    """The saved state of this watcher, or None; an unreadable one is an error to show."""
    path = state_path(folder, label, instance)
    if not path.exists():
        return None
    try:
        return WatchState(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{path}: the watcher's state is unreadable ({exc}); move it aside to start over"
        ) from None


def of_label(folder: Path, label: str) -> list[WatchState]:
    """The readable states of every watcher of ``label``."""
    found = []
    for path in sorted(folder.glob(f"{PREFIX}{run_folder.safe_label(label)}-*.json")):
        try:
            state = WatchState(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if state.label == label:
            found.append(state)
    return found


def save(folder: Path, state: WatchState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    run_folder.write(state_path(folder, state.label, state.instance), asdict(state))
