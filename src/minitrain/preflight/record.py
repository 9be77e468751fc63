"""The dated pre-flight record: one JSON file per run, also the progress a rerun can resume.

A run creates its own file (``<UTC time>-<label>[-dry-run].json``, never an existing name) and
rewrites only that file, atomically, after every step; so a killed run leaves a record that
says how far it got, and no run ever overwrites another's.
"""

from __future__ import annotations

import json
import os
import re
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
            "steps": [],
            "reason": "",
            "stopped_at_step": None,
        }
        self._save()

    def add(self, result: StepResult) -> None:
        self.data["steps"].append(asdict(result))
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
        temp = self.path.with_name(f".{self.path.name}.tmp")
        # redacted before encoding: JSON escapes a key's `\` or `"` and it would not match
        temp.write_text(json.dumps(redact_data(self.data), indent=2) + "\n", encoding="utf-8")
        with temp.open("rb") as f:
            os.fsync(f.fileno())
        temp.replace(self.path)


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
    folder: Path, *, checklist: Checklist, facts: Facts, before: Path
) -> tuple[Path, list[StepResult]] | None:
    """The newest live run of this label, if it stopped unfinished, is fresh, and used the same
    estimate and checklist; its steps. Only the newest run of the label is a candidate."""
    runs = []
    for path, data in records_of(folder, facts.label):
        if path == before or data.get("mode") != "live":
            continue  # the run asking, or not a live pre-flight
        try:
            runs.append((str(data["started_at"]), path.stat().st_mtime, path, data))
        except (OSError, KeyError):
            continue
    if not runs:
        return None
    _, _, path, data = max(runs, key=lambda run: run[:2])
    try:
        fresh = datetime.now(UTC) - datetime.fromisoformat(data["started_at"]) < STALE_AFTER
        steps = [StepResult(**s) for s in data["steps"]]
        same = data["checklist"]["sha256"] == checklist.sha256 and data["estimate"] == str(
            facts.estimate
        )
    except (ValueError, KeyError, TypeError):
        return None
    if data["status"] in ("running", "aborted", "error") and fresh and same and steps:
        return path, steps
    return None


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
