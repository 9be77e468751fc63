"""The run folder itself: how its files are named, reserved, written and found by label.

Every record in the folder is ``<UTC time>-<label>[-n]<suffix>.json``, created empty under a name
no other record holds (``reserve``) and rewritten atomically (``write``). Each kind of record has
one owner that knows its suffix and its JSON keys: ``runs`` (pre-flight runs, no suffix),
``launches`` (``-launch``), ``watches`` (the hidden ``.watch-`` files). A record of any kind but a
pre-flight run carries a ``kind`` key, so ``files_of`` can be read by each owner without knowing
the others' keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minitrain._secrets import redact_data
from minitrain.errors import InputError


def write(path: Path, data: dict[str, Any], *, secret: bool = False) -> None:
    """Write a file atomically: a temporary file, renamed over it. A pre-flight file is
    ``secret`` (answers may hold keys): redacted, and fsynced before the rename."""
    temp = path.with_name(f".{path.name}.tmp")
    # redacted before encoding: JSON escapes a key's `\` or `"` and it would not match
    temp.write_text(
        json.dumps(redact_data(data) if secret else data, indent=2) + "\n", encoding="utf-8"
    )
    if secret:
        with temp.open("rb") as f:
            os.fsync(f.fileno())
    temp.replace(path)


def stamp() -> str:
    """Now, as the folder's files write a time: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def text(value: object) -> str | None:
    """A field read back: a string, or None when it is missing or damaged."""
    return value if isinstance(value, str) else None


def files_of(
    folder: Path, label: str, *, suffix: str = ""
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable file of ``label`` in ``folder``, newest name first; ``suffix`` picks a
    kind (a launch's). Unreadable files and others' hidden working files are skipped: they
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


def safe_label(label: str) -> str:
    """A label as a file-name part: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")[:60] or "run"


def reserve(folder: Path, now: datetime, label: str, *, suffix: str = "") -> Path:
    """A new file name for a record, created empty so no other record can take it."""
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
