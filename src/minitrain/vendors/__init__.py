"""The vendors' own CLIs, driven as argument lists: list this account's instances, terminate one.

No network code of our own: ``runpodctl`` and ``vastai`` hold the credentials and do the calls.
Every terminate is confirmed by listing again; a vendor that says "done" is not taken at its word.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from minitrain._commands import Ran
from minitrain._commands import run as run_command
from minitrain.errors import InputError

TIMEOUT_S = 60


class VendorError(InputError):
    """The vendor CLI failed, timed out, or printed something we cannot read."""


class VendorUnavailable(VendorError):
    """The vendor CLI is not installed (or not on PATH)."""


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    status: str  # the vendor's own word: RUNNING, EXITED, running, stopped, ...
    cost_per_hr: Decimal | None

    def describe(self) -> str:
        cost = f", ${self.cost_per_hr}/hr" if self.cost_per_hr is not None else ""
        return f"{self.id} ({self.name or 'unnamed'}, {self.status}{cost})"


class Vendor(Protocol):
    name: str
    cli: str

    def instances(self) -> list[Instance]: ...

    def terminate(self, instance_id: str) -> None: ...


def get(name: str) -> Vendor:
    from minitrain.vendors import runpod, vast

    vendors: dict[str, Vendor] = {"runpod": runpod.RunPod(), "vast": vast.Vast()}
    try:
        return vendors[name]
    except KeyError:
        raise InputError(
            f"no adapter for vendor {name!r}; the adapters are {', '.join(vendors)}"
        ) from None


def terminate_and_confirm(vendor: Vendor, instance_id: str) -> None:
    """Terminate, then list again: the instance must be gone, whatever the CLI said."""
    vendor.terminate(instance_id)
    left = [i for i in vendor.instances() if i.id == instance_id]
    if left:
        raise VendorError(
            f"{vendor.cli} said it terminated {instance_id}, but it is still listed"
            f" ({left[0].status}); terminate it in the console now"
        )


def run(argv: Sequence[str], *, what: str) -> Ran:
    """Run a vendor command; not installed is VendorUnavailable, any failure a VendorError."""
    ran = run_command(argv, timeout=TIMEOUT_S)
    if ran.missing:
        raise VendorUnavailable(ran.problem)
    if ran.problem:
        raise VendorError(ran.problem)
    if not ran.ok:
        raise VendorError(
            f"{what} failed: `{ran.shown}` exited {ran.status}: {ran.first_error_line()}"
        )
    return ran


def parse_json_list(text: str, *, command: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text) if text.strip() else []
    except ValueError:
        raise VendorError(
            f"`{command}` printed something that is not JSON: {first_line(text)!r}"
        ) from None
    if isinstance(data, dict):  # some CLI versions wrap the list
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise VendorError(f"`{command}` printed JSON, but not a list of instances")
    return data


def money(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def first_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no message)"])[0][:200]
