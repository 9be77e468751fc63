"""The vendors' own CLIs, driven as argument lists: list this account's instances, terminate one,
read what a create command printed.

No network code of our own: ``runpodctl`` and ``vastai`` hold the credentials and do the calls.
The adapters (``runpod.py``, ``vast.py``) stand on ``contract.py``; this module picks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from minitrain.errors import InputError
from minitrain.vendors.contract import (
    Account,
    AutoTermination,
    Created,
    Instance,
    Vendor,
    VendorError,
    VendorUnavailable,
    read_list,
)

__all__ = [
    "Account",
    "AutoTermination",
    "Created",
    "Instance",
    "Vendor",
    "VendorError",
    "VendorUnavailable",
    "get",
    "of_command",
    "read_list",
    "terminate_and_confirm",
]


def of_command(argv: Sequence[str], default: str) -> str:
    """The vendor whose CLI ``argv`` runs (``vastai ...`` is Vast.ai), else ``default``."""
    clis = {"runpodctl": "runpod", "vastai": "vast"}
    return clis.get(Path(argv[0]).name, default) if argv else default


ADAPTERS = ("runpod", "vast")


def get(name: str, account: Account | None = None) -> Vendor:
    """The adapter of ``name``; only its own module is imported (a run uses one vendor).
    ``account``: the one a create command named (vastai); runpodctl has no such flags."""
    if name == "runpod":
        from minitrain.vendors.runpod import RunPod

        return RunPod()
    if name == "vast":
        from minitrain.vendors.vast import Vast

        return Vast(account)
    raise InputError(f"no adapter for vendor {name!r}; the adapters are {', '.join(ADAPTERS)}")


def terminate_and_confirm(vendor: Vendor, instance_id: str) -> bool:
    """Terminate, then list again: the instance must be gone, whatever the CLI said. True when
    the API answered that no such instance exists (it had already ended)."""
    gone = vendor.terminate(instance_id)
    try:
        listed = vendor.instances()
    except VendorError as exc:
        raise VendorError(
            f"{vendor.cli} was asked to terminate {instance_id}, but listing again failed,"
            f" so it is not confirmed: {exc}"
        ) from None
    left = [i for i in listed if i.id == instance_id]
    if left:
        raise VendorError(
            f"{vendor.cli} said it terminated {instance_id}, but it is still listed"
            f" ({left[0].status}); terminate it in the console now"
        )
    return gone
