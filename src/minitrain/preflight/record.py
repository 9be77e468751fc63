"""The dated pre-flight record: one JSON file per run, also the progress a rerun can resume.

A run creates its own file (``<UTC time>-<label>[-dry-run].json``, never an existing name) and
rewrites it, atomically, after every step; so a killed run leaves a record that says how far it
got. Another run touches it only once its process is gone: to say it was ``interrupted``, or to
finish it as ``authorized``/``recorded`` when the ledger holds the line its gate was writing
(the gate saves the line's id here *before* writing it, so a rerun can look it up).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from minitrain._secrets import redact_data
from minitrain.errors import InputError
from minitrain.preflight.checklist import Checklist
from minitrain.preflight.facts import Facts

STALE_AFTER = timedelta(minutes=30)  # older progress is not offered for resuming


@dataclass(frozen=True)
class StepResult:
    step: str
    kind: str
    text: str
    answer: str
    origin: str  # person, scripted or sensed
    at: str
    passed: bool
    note: str = ""


class RunRecord:
    def __init__(
        self,
        folder: Path,
        *,
        checklist: Checklist,
        facts: Facts,
        ceiling_source: str,
        dry_run: bool,
    ) -> None:
        now = datetime.now(UTC)
        self.path = reserve(folder, now, facts.label, suffix="-dry-run" if dry_run else "")
        self.data: dict[str, Any] = {
            "status": "running",
            "mode": "dry-run" if dry_run else "live",
            "label": facts.label,
            "estimate": str(facts.estimate),
            "lab": facts.lab,
            "ceiling": str(facts.ceiling),
            "ceiling_source": ceiling_source,
            "remaining_before": str(facts.remaining),
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
            "host": socket.gethostname(),
            "steps": [],
            "retries": [],  # failed answers, each asked again
            "gate": None,  # {"action", "op_id", "amount"}: saved before the ledger is written
            "reason": "",
            "stopped_at_step": None,
        }
        self._save()

    def add(self, result: StepResult) -> None:
        self.data["steps"].append(asdict(result))
        self._save()

    def retry(self, result: StepResult) -> None:
        """A failed answer, kept; the step is asked again."""
        self.data["retries"].append(asdict(result))
        self._save()

    def before_ledger(self, action: str, op_id: str | None, amount: str) -> None:
        """Save the id of the line about to be written, so a rerun can tell whether it was."""
        self.data["gate"] = {"action": action, "op_id": op_id, "amount": amount}
        self._save()

    def replace(self, result: StepResult) -> None:
        """A changed answer (from the review) takes the place of the earlier one."""
        steps = self.data["steps"]
        self.data["steps"] = [s for s in steps if s["step"] != result.step] + [asdict(result)]
        self._save()

    def finish(
        self,
        status: str,
        *,
        reason: str = "",
        step: str | None = None,
        remaining_after: str | None = None,
    ) -> None:
        self.data.update(
            status=status,
            reason=reason,
            stopped_at_step=step,
            remaining_after=remaining_after,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._save()

    def _save(self) -> None:
        save(self.path, self.data)


def save(path: Path, data: dict[str, Any]) -> None:
    """Write a record atomically: a temporary file, fsynced, renamed over the record."""
    temp = path.with_name(f".{path.name}.tmp")
    # redacted before encoding: JSON escapes a key's `\` or `"` and it would not match
    temp.write_text(json.dumps(redact_data(data), indent=2) + "\n", encoding="utf-8")
    with temp.open("rb") as f:
        os.fsync(f.fileno())
    temp.replace(path)


def gone(data: dict[str, Any]) -> bool:
    """Whether a ``running`` record's process ended without finishing it (killed, crashed):
    its pid is not alive on this host, or it started longer ago than the resume window."""
    if data.get("status") != "running":
        return False
    try:
        started = datetime.fromisoformat(data["started_at"])
        pid, host = int(data["pid"]), str(data["host"])
    except (KeyError, TypeError, ValueError):
        return True  # an older record, or damaged: nobody is still writing it
    if datetime.now(UTC) - started > STALE_AFTER:
        return True
    if host != socket.gethostname() or pid == os.getpid():
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


def close_interrupted(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Say of a record whose process is gone that it was interrupted (it stays resumable)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    data = {
        **data,
        "status": "interrupted",
        "reason": f"the run's process (pid {data.get('pid')}) ended without finishing:"
        f" killed or crashed (found at {now})",
        "finished_at": now,
    }
    save(path, data)
    return data


def records_of(
    folder: Path, label: str, *, suffix: str = ""
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record of ``label`` in ``folder``, newest name first; ``suffix`` picks a
    kind (``"-launch"``). Unreadable files and others' hidden working files are skipped: they
    are not ours to judge, and they stay as they are."""
    for path in sorted(folder.glob(f"*-{safe_label(label)}*{suffix}.json"), reverse=True):
        if path.name.startswith("."):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("label") == label:
            yield path, data


def find_resumable(
    folder: Path, *, checklist: Checklist, facts: Facts
) -> tuple[Path, dict[str, Any], list[StepResult]] | None:
    """The newest live run of this label, if it stopped unfinished, is fresh, and used the same
    estimate and checklist; its passed steps. Only the newest run of the label is a candidate."""
    found = newest_live(folder, facts.label)
    if found is None:
        return None
    path, data = found
    try:
        fresh = datetime.now(UTC) - datetime.fromisoformat(data["started_at"]) < STALE_AFTER
        steps = [StepResult(**s) for s in data["steps"]]
        same = data["checklist"]["sha256"] == checklist.sha256 and data["estimate"] == str(
            facts.estimate
        )
    except (ValueError, KeyError, TypeError):
        return None
    passed = [step for step in steps if step.passed]
    if data["status"] in RESUMABLE and fresh and same and passed:
        return path, data, passed
    return None


RESUMABLE = ("running", "interrupted", "aborted", "error", "not-passed")


def newest_live(folder: Path, label: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest live pre-flight record of ``label`` that got past its pre-checks."""
    runs = []
    for path, data in records_of(folder, label):
        if data.get("mode") != "live" or not data.get("steps"):
            continue
        try:
            runs.append((str(data["started_at"]), path.stat().st_mtime, path, data))
        except (OSError, KeyError):
            continue
    if not runs:
        return None
    _, _, path, data = max(runs, key=lambda run: run[:2])
    return path, data


def safe_label(label: str) -> str:
    """A label as a file-name part: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")[:60] or "run"


def reserve(folder: Path, now: datetime, label: str, *, suffix: str = "") -> Path:
    """A new file name for a record, created empty so no other run can take it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the records folder {folder}: {exc.strerror}") from None
    stem = f"{now:%Y%m%dT%H%M%SZ}-{safe_label(label)}"
    for n in range(1, 1000):
        name = f"{stem}{suffix}.json" if n == 1 else f"{stem}-{n}{suffix}.json"
        try:
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return folder / name
    raise InputError(f"{folder}: too many records named {stem}*")
