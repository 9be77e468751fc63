"""Pre-flight runs in the run folder: the file each run writes, and reading them back.

This is the only module that knows a pre-flight run's JSON keys; the rest of the package reads
them back as frozen values. How files are named, reserved and written is ``run_folder``'s;
launches and watcher states have their own owners (``launches``, ``watches``).

A pre-flight run creates its own file (``<UTC time>-<label>[-dry-run].json``, never an existing
name) and rewrites it, atomically, after every step; so a killed run leaves a file that says how
far it got. Another run touches it only once its process is gone: to say it was ``interrupted``,
or to finish it as ``authorized``/``recorded`` when the ledger holds the line its gate was
writing (the gate saves the line's id here *before* writing it, so a rerun can look it up). A
launch writes its own record beside it (``launches``), and a watcher its state (``watches``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from minitrain import run_folder
from minitrain._struct import Struct, asdict, field

STALE_AFTER = timedelta(minutes=30)  # older progress is not offered for resuming or launching
MAX_HOURS = 4  # the longest vendor-side auto-termination allowed, in hours
START_STEP = "start-time"  # the checklist step whose answer is the UTC time billing started
RESUMABLE = ("running", "interrupted", "aborted", "error", "not-passed")

Origin = Literal["person", "scripted", "sensed"]


class StepResult(Struct, frozen=True):
    step: str
    kind: str
    text: str
    answer: str
    origin: Origin
    at: str
    passed: bool
    note: str = ""


class ChecklistRef(Struct, frozen=True):
    """Which checklist a run walked, as its file names it."""

    id: str
    version: int
    path: Path
    sha256: str


class Gate(Struct, frozen=True):
    """What a run's gate was about to write to the ledger, saved before writing it."""

    action: str  # authorize or record_actual
    op_id: str | None
    amount: str


class Preflight(Struct, frozen=True):
    """A pre-flight run's file as read back; damaged fields read as None."""

    path: Path
    label: str
    status: str | None
    mode: str | None
    estimate: str | None
    started_at: str | None
    finished_at: str | None
    _data: dict[str, Any] = field(repr=False, compare=False)

    @property
    def live(self) -> bool:
        return self.mode == "live"

    @property
    def has_steps(self) -> bool:
        return bool(self._data.get("steps"))

    @property
    def pid(self) -> object:
        return self._data.get("pid")

    @property
    def checklist_sha256(self) -> str:
        """Raises KeyError or TypeError when the file is damaged."""
        return str(self._data["checklist"]["sha256"])

    @property
    def gate(self) -> Gate | None:
        gate = self._data.get("gate")
        if not isinstance(gate, dict):
            return None
        op_id = gate.get("op_id")
        return Gate(
            str(gate.get("action")), None if op_id is None else str(op_id), str(gate["amount"])
        )

    def steps(self) -> list[StepResult]:
        """Every recorded step; raises KeyError, TypeError or ValueError when damaged."""
        return [StepResult(**s) for s in self._data["steps"]]

    def start_time(self) -> datetime | None:
        """The billing start the run sensed just before authorizing; None if it has none.
        Raises KeyError, TypeError, ValueError or AttributeError when damaged."""
        starts = [s["answer"] for s in self._data["steps"] if s.get("step") == START_STEP]
        return datetime.fromisoformat(starts[0]) if starts else None

    def finished(self) -> datetime | None:
        """When it finished; None when unfinished or damaged."""
        try:
            return datetime.fromisoformat(self._data["finished_at"])
        except (KeyError, TypeError, ValueError):
            return None


class RunRecord:
    """The file of the pre-flight run in progress. A live run's is rewritten after every change
    (a rerun resumes from it, and reads a killed gate's line id from it); a dry run's once, when
    it finishes (stopped, Ctrl-C and errors included): it writes no ledger and is never resumed,
    and each save costs an fsync. Until then its name is held by an empty file, which readers
    skip, and which is all a dry run killed outright (SIGKILL) leaves."""

    def __init__(
        self,
        folder: Path,
        *,
        label: str,
        estimate: Decimal,
        lab: str,
        ceiling: Decimal,
        remaining: Decimal,
        ceiling_source: str,
        checklist: ChecklistRef,
        dry_run: bool,
    ) -> None:
        now = datetime.now(UTC)
        self.path = run_folder.reserve(folder, now, label, suffix="-dry-run" if dry_run else "")
        self._data: dict[str, Any] = {
            "status": "running",
            "mode": "dry-run" if dry_run else "live",
            "label": label,
            "estimate": str(estimate),
            "lab": lab,
            "ceiling": str(ceiling),
            "ceiling_source": ceiling_source,
            "remaining_before": str(remaining),
            "remaining_after": None,
            "checklist": {
                "id": checklist.id,
                "version": checklist.version,
                "path": str(checklist.path),
                "sha256": checklist.sha256,
            },
            "started_at": now.isoformat(timespec="seconds"),
            "finished_at": None,
            "resumed_from": None,
            "pid": os.getpid(),
            "host": _host(),
            "steps": [],
            "retries": [],  # failed answers, each asked again
            "gate": None,  # {"action", "op_id", "amount"}: saved before the ledger is written
            "reason": "",
            "stopped_at_step": None,
        }
        self._every_change = not dry_run
        self._changed()

    def resumed_from(self, earlier: Path) -> None:
        self._data["resumed_from"] = earlier.name

    def add(self, result: StepResult) -> None:
        self._data["steps"].append(asdict(result))
        self._changed()

    def retry(self, result: StepResult) -> None:
        """A failed answer, kept; the step is asked again."""
        self._data["retries"].append(asdict(result))
        self._changed()

    def before_ledger(self, action: str, op_id: str | None, amount: str) -> None:
        """Save the id of the line about to be written, so a rerun can tell whether it was."""
        self._data["gate"] = {"action": action, "op_id": op_id, "amount": amount}
        self._changed()

    def replace(self, result: StepResult) -> None:
        """A changed answer (from the review) takes the place of the earlier one."""
        steps = self._data["steps"]
        self._data["steps"] = [s for s in steps if s["step"] != result.step] + [asdict(result)]
        self._changed()

    def finish(
        self,
        status: str,
        *,
        reason: str = "",
        step: str | None = None,
        remaining_after: str | None = None,
    ) -> None:
        self._data.update(
            status=status,
            reason=reason,
            stopped_at_step=step,
            remaining_after=remaining_after,
            finished_at=run_folder.stamp(),
        )
        self._save()

    def _changed(self) -> None:
        if self._every_change:
            self._save()

    def _save(self) -> None:
        run_folder.write(self.path, self._data, secret=True)


def _host() -> str:
    """This machine's name: ``socket.gethostname()``'s value (both read uname), without the
    start-up cost of importing ``socket``."""
    return os.uname().nodename


def gone(run: Preflight) -> bool:
    """Whether a ``running`` run's process ended without finishing it (killed, crashed):
    its pid is not alive on this host, or it started longer ago than the resume window."""
    if run.status != "running":
        return False
    try:
        started = datetime.fromisoformat(run._data["started_at"])
        pid, host = int(run._data["pid"]), str(run._data["host"])
    except (KeyError, TypeError, ValueError):
        return True  # an older file, or damaged: nobody is still writing it
    if datetime.now(UTC) - started > STALE_AFTER:
        return True
    if host != _host() or pid == os.getpid():
        return False  # another machine's run cannot be checked from here; this one is alive
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def close_interrupted(run: Preflight) -> None:
    """Say of a run whose process is gone that it was interrupted (it stays resumable)."""
    now = run_folder.stamp()
    run_folder.write(
        run.path,
        {
            **run._data,
            "status": "interrupted",
            "reason": f"the run's process (pid {run.pid}) ended without finishing:"
            f" killed or crashed (found at {now})",
            "finished_at": now,
        },
        secret=True,
    )


def close_written(run: Preflight, status: str, reason: str, *, remaining_after: str | None) -> None:
    """Finish a killed run whose gate did write the ledger; ``remaining_after`` None keeps the
    file's own."""
    run_folder.write(
        run.path,
        {
            **run._data,
            "status": status,
            "reason": reason,
            "finished_at": run_folder.stamp(),
            "remaining_after": remaining_after or run._data.get("remaining_after"),
        },
        secret=True,
    )


def preflights(folder: Path, label: str) -> Iterator[Preflight]:
    """The pre-flight runs of ``label``, newest name first."""
    for path, data in run_folder.files_of(folder, label):
        if "kind" in data:  # a launch: see run_folder
            continue
        yield Preflight(
            path,
            label,
            run_folder.text(data.get("status")),
            run_folder.text(data.get("mode")),
            run_folder.text(data.get("estimate")),
            run_folder.text(data.get("started_at")),
            run_folder.text(data.get("finished_at")),
            data,
        )


def find_resumable(
    folder: Path, label: str, *, checklist_sha256: str, estimate: Decimal
) -> tuple[Preflight, list[StepResult]] | None:
    """The newest live run of this label, if it stopped unfinished, is fresh, and used the same
    estimate and checklist; its passed steps. Only the newest run of the label is a candidate."""
    run = newest_live(folder, label)
    if run is None:
        return None
    try:
        fresh = datetime.now(UTC) - datetime.fromisoformat(run._data["started_at"]) < STALE_AFTER
        steps = run.steps()
        same = run.checklist_sha256 == checklist_sha256 and run._data["estimate"] == str(estimate)
    except (ValueError, KeyError, TypeError):
        return None
    passed = [step for step in steps if step.passed]
    if run._data["status"] in RESUMABLE and fresh and same and passed:
        return run, passed
    return None


def newest_live(folder: Path, label: str) -> Preflight | None:
    """The newest live pre-flight run of ``label`` that got past its pre-checks."""
    found = []
    for run in preflights(folder, label):
        if not run.live or not run.has_steps:
            continue
        try:
            found.append((str(run._data["started_at"]), run.path.stat().st_mtime, run))
        except (OSError, KeyError):
            continue
    if not found:
        return None
    return max(found, key=lambda entry: entry[:2])[2]


def authorized_start(folder: Path, label: str) -> tuple[Path, datetime] | None:
    """The file and start time of the newest authorized run of ``label`` that noted one."""
    found = []
    for run in preflights(folder, label):
        if run.status != "authorized":
            continue
        try:
            start = run.start_time()
            if start is not None:
                found.append((str(run._data["started_at"]), run.path, start))
        except (KeyError, TypeError, ValueError, AttributeError):  # damaged: not ours to judge
            continue
    if not found:
        return None
    _, path, start = max(found)
    return path, start
