"""What every vendor adapter promises and the helpers that make its CLI prove itself.

A CLI's answer is trusted only when it proves itself: it exited 0, printed no error on stderr,
and printed the documented shape on stdout. Anything else (``vastai`` exits 0 with nothing on
stdout when its HTTP call fails) is a failure that says what the CLI printed, never "no
instances". Every terminate is confirmed by listing again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from minitrain._commands import Ran, one_line
from minitrain._commands import run as run_command
from minitrain._struct import Struct
from minitrain.errors import InputError

TIMEOUT_S = 60
# stderr lines that are notices, not errors (runpodctl `cmd/root.go`, `cmd/pod/create.go`)
NOTICES = ("note:", "warning:", "migrating config")


class VendorError(InputError):
    """The vendor CLI failed, timed out, or printed something we cannot read."""


class VendorUnavailable(VendorError):
    """The vendor CLI is not installed (or not on PATH)."""


class Instance(Struct, frozen=True):
    id: str
    name: str
    status: str  # the vendor's own word: RUNNING, EXITED, running, stopped, ...
    cost_per_hr: Decimal | None

    def describe(self) -> str:
        cost = f", ${self.cost_per_hr}/hr" if self.cost_per_hr is not None else ""
        return f"{self.id} ({self.name or 'unnamed'}, {self.status}{cost})"


class Created(Struct, frozen=True):
    """What a create command printed: the id in the documented shape, and what went wrong."""

    instance_id: str | None
    problem: str = ""  # "" only when the vendor's documented success was printed
    # the vendor's API answered the create with its documented refusal (a 4xx status): the
    # request was rejected, so nothing was created (issue 23: the pre-flight stays usable)
    refused: bool = False


class AutoTermination(Struct, frozen=True):
    """How a launch's time cap is known to hold when the laptop is off."""

    # "by the vendor" (RunPod's --terminate-after), "on the instance, until HH:MM UTC" (the
    # cap Vast instances get in their on-start), or "only while `budget watch` runs"
    how: str
    until: str | None = None  # the RFC3339 time it ends the instance
    detail: str = ""


class Account(Struct, frozen=True):
    """The account a create command named with its own flags (vastai ``--api-key``, ``--url``).

    Held in memory only: handed to the vendor's CLI through its environment (``VAST_API_KEY``,
    ``VAST_URL``: ``vastai/cli/main.py`` and ``vastai/api/client.py`` read them as those flags'
    defaults), never written to a file or record, and never on a command line."""

    api_key: str | None = None
    url: str | None = None

    def env(self, key_name: str, url_name: str) -> dict[str, str]:
        found = {key_name: self.api_key, url_name: self.url}
        return {name: value for name, value in found.items() if value}

    def named(self) -> str:
        """Which account flags were given, for a record (the key itself never)."""
        parts = ["--api-key (its key is not kept)"] if self.api_key else []
        return ", ".join([*parts, *([f"--url {self.url}"] if self.url else [])])


class Vendor(Protocol):
    name: str
    cli: str

    def instances(self) -> list[Instance]: ...

    def terminate(self, instance_id: str) -> bool:
        """Ask the vendor to end it; True when the API answered that no such instance exists
        (already ended), False when it accepted. Raises VendorError for anything else."""
        ...

    def created(self, ran: Ran) -> Created: ...


def run(
    argv: Sequence[str],
    *,
    what: str,
    explain: Callable[[str], str | None],
    env: Mapping[str, str] | None = None,
) -> Ran:
    """Run a vendor command that must prove itself: exit 0 and no error on stderr.

    ``explain`` turns the vendor's error shapes into a plain message (None: not an error).
    """
    ran = run_command(argv, timeout=TIMEOUT_S, env=env)
    if ran.missing:
        raise VendorUnavailable(ran.problem)
    if ran.problem:
        raise VendorError(f"{what} failed: {ran.problem}")
    said = explain(ran.stderr)
    if said is not None or not ran.ok:
        told = said or ran.error_text()
        raise VendorError(f"{what} failed: `{ran.shown}` exited {ran.status}: {told}")
    return ran


def read_list(text: str, *, command: str) -> list[dict[str, Any]]:
    """The documented listing: a JSON list of objects with an id (``[]`` when there are none).

    Empty output, HTML or any other JSON is not a listing: it proves nothing."""
    if not text.strip():
        raise VendorError(f"`{command}` printed nothing, so it proves nothing about your instances")
    try:
        data = json.loads(text)
    except ValueError:
        raise VendorError(
            f"`{command}` printed something that is not JSON: {one_line(text)[:200]!r}"
        ) from None
    if not isinstance(data, list) or not all(
        isinstance(item, dict) and item.get("id") is not None for item in data
    ):
        raise VendorError(
            f"`{command}` printed JSON that is not a list of instances: {one_line(text)[:200]!r}"
        )
    return data


def stderr_error(cli: str, stderr: str, shapes: Callable[[list[str]], str | None]) -> str | None:
    """An error on stderr, said plainly, or None when stderr is empty or only notices.

    ``shapes`` recognises the vendor's own error shapes in the lines; a Python traceback is
    named by its last line; anything else is shown whole (trimmed)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if all(line.lower().startswith(NOTICES) for line in lines):
        return None
    said = shapes(lines)
    if said is not None:
        return f"{cli}: {said}"
    if lines[0].startswith("Traceback (most recent call last)"):
        return f"{cli} crashed: {lines[-1][:500]}"
    return f"{cli}: {one_line(stderr)}"


def json_objects(lines: list[str]) -> list[dict[str, Any]]:
    """The lines that are JSON objects, parsed (a vendor's error object is one line)."""
    found = []
    for line in lines:
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                found.append(data)
    return found


def money(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None
