"""The actual cost of a run from its pre-flight record: end minus start, x GPUs x hourly price.

The start is the UTC time the pre-flight sensed and recorded just before authorizing; the end is
now, or when the instance really ended (``--end``). Time is rounded up to the vendor's billing
granularity (a minute by default) and the amount up to the cent: the guard never under-counts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from minitrain import runs
from minitrain._struct import Struct
from minitrain.errors import InputError
from minitrain.money import CENT


class Cost(Struct, frozen=True):
    record: Path
    start: datetime
    end: datetime
    billed_seconds: int
    gpus: int
    price: Decimal  # per GPU-hour
    amount: Decimal

    def explain(self) -> str:
        return (
            f"{self.billed_seconds / 3600:.2f} h billed"
            f" ({self.start:%H:%M} to {self.end:%H:%M} UTC)"
            f" x {self.gpus} GPUs x ${self.price}/GPU-hour = ${self.amount}"
        )


def from_record(
    folder: Path,
    label: str,
    *,
    gpus: int,
    price: Decimal | None,
    end: datetime | None = None,
    granularity_s: int = 60,
) -> Cost:
    if price is None:  # a manifest `budget init` wrote without a vendor
        raise InputError(
            "--from-record needs the price per GPU-hour: name the vendor and its price in the"
            " manifest (vendor, vendor_snapshot_prices), or give the amount the vendor billed"
        )
    record, start = authorized_start(folder, label)
    if end is None:
        _refuse_unconfirmed(folder, label)
    end = end or datetime.now(UTC)
    if end.utcoffset() is None:
        raise InputError(f"--end {end.isoformat()} has no UTC offset; write e.g. 2026-11-28T21:30Z")
    if end < start:
        raise InputError(
            f"the end {end:%Y-%m-%d %H:%M} UTC is before the start {start:%Y-%m-%d %H:%M} UTC"
        )
    seconds = math.ceil((end - start).total_seconds() / granularity_s) * granularity_s
    amount = (Decimal(seconds) / 3600 * gpus * price).quantize(CENT, rounding=ROUND_CEILING)
    return Cost(record, start, end, seconds, gpus, price, amount)


def _refuse_unconfirmed(folder: Path, label: str) -> None:
    """ "Now" is no end for an instance whose termination no listing has confirmed."""
    from minitrain import watch

    for state in watch.unconfirmed(folder, label):
        raise InputError(
            f"the watcher could not confirm that {state.instance} is gone (asked to terminate"
            f" it at {state.ended_at}); it may still bill: check the console, and once it is"
            f" gone give its end: budget record {label} --from-record --end TIME"
        )


def parse_end(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--end {text!r} is not a time; write e.g. 2026-11-28T21:30:00Z") from None


def authorized_start(folder: Path, label: str) -> tuple[Path, datetime]:
    """The start time of the newest authorized live pre-flight of ``label``."""
    found = runs.authorized_start(folder, label)
    if found is None:
        raise InputError(
            f"no authorized pre-flight record of {label!r} with a start time in {folder};"
            " give the amount the vendor billed instead: budget record LABEL USD"
        )
    return found
