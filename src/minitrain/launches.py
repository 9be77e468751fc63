"""Launch records in the run folder: what ``budget launch`` wrote, and reading them back.

A launch writes ``<UTC time>-<label>-launch.json`` beside the pre-flight run it used, first
before its vendor command runs (a kill from then on leaves it behind), then with the outcome.
This is the only module that knows that suffix and a launch record's JSON keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from minitrain import run_folder
from minitrain._struct import Struct

SUFFIX = "-launch"


class Launch(Struct, frozen=True):
    """A launch's file as read back; damaged fields read as None."""

    path: Path
    preflight: str | None  # the file name of the pre-flight run it used
    instance_id: str | None
    outcome: str | None
    started_at: datetime | None
    account: str = ""  # the account flags the create named ("" for the environment's)
    created_nothing: bool = False  # proven: the vendor's CLI was not there, nothing ran


class LaunchFile(Struct, frozen=True):
    """What a launch writes, first before its vendor command runs, then after."""

    label: str
    started: datetime
    preflight: str
    command: str
    auto_termination: dict[str, str | None]
    outcome: str
    exit_status: int | None = None
    instance_id: str | None = None
    output_tail: str | None = None
    account: str = ""  # which account flags the create named, never the key itself
    created_nothing: bool = False  # proven (the CLI was not there): its pre-flight is free again


def reserve(folder: Path, now: datetime, label: str) -> Path:
    return run_folder.reserve(folder, now, label, suffix=SUFFIX)


def write(path: Path, launch: LaunchFile) -> None:
    fields = {
        "preflight": launch.preflight,
        "command": launch.command,
        "auto_termination": launch.auto_termination,
        "exit_status": launch.exit_status,
        "instance_id": launch.instance_id,
        "outcome": launch.outcome,
    }
    if launch.output_tail is not None:
        fields["output_tail"] = launch.output_tail
    if launch.account:
        fields["account"] = launch.account
    if launch.created_nothing:
        fields["created_nothing"] = True
    data = {
        "kind": "launch",
        "label": launch.label,
        "started_at": launch.started.isoformat(timespec="seconds"),
        "finished_at": run_folder.stamp(),
        **fields,
    }
    run_folder.write(path, data)


def of_label(folder: Path, label: str) -> Iterator[Launch]:
    """The launches of ``label``, newest name first."""
    for path, data in run_folder.files_of(folder, label, suffix=SUFFIX):
        try:
            started: datetime | None = datetime.fromisoformat(data["started_at"])
        except (KeyError, TypeError, ValueError):  # a damaged file
            started = None
        yield Launch(
            path,
            run_folder.text(data.get("preflight")),
            run_folder.text(data.get("instance_id")),
            run_folder.text(data.get("outcome")),
            started,
            run_folder.text(data.get("account")) or "",
            data.get("created_nothing") is True,
        )
