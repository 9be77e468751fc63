"""The lab manifest: ``experiments/35-cloud-budget/manifest.json`` -> a checked :class:`Manifest`.

The manifest is the one source of the ceiling, the per-lab caps, the price and the ledger's path;
the documents, the guard and the checklist all read these numbers from here.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from minitrain import labs
from minitrain._secrets import redact_url
from minitrain.errors import FileFormatError, InputError
from minitrain.money import parse_rate, parse_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any

MANIFEST_PATH = Path("experiments/35-cloud-budget/manifest.json")
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "seed": int,
    "lab": str,
    "hardware_target": (str, dict),
    "vendor": str,
    "currency": str,
    "ceiling_usd": (Decimal, int),
    "ceiling_per_lab": dict,
    "spend_log_path": str,
    "vendor_snapshot_date": str,
    "vendor_snapshot_prices": dict,
}
_OPTIONAL = {"$schema", "gpus", "ledger_url"}


class Manifest:
    """The checked manifest, built once by :func:`load` and only read after. A plain class, not
    a dataclass: every command loads one, and the decorator's work is start-up time."""

    __slots__ = (
        "ceiling",
        "currency",
        "gpus",
        "hardware_target",
        "lab",
        "lab_caps",
        "ledger_path",
        "ledger_url",
        "path",
        "prices",
        "root",
        "seed",
        "snapshot_date",
        "vendor",
    )

    def __init__(
        self,
        *,
        path: Path,
        root: Path,
        seed: int,
        lab: str,
        hardware_target: str | Mapping[str, Any],
        vendor: str,
        currency: str,
        ceiling: Decimal,
        lab_caps: Mapping[str, Decimal],
        ledger_path: Path,
        snapshot_date: str,
        prices: Mapping[str, Decimal],
        gpus: int = 2,
        ledger_url: str | None = None,
    ) -> None:
        self.path = path
        self.root = root  # the repository root: paths in the manifest are relative to it
        self.seed = seed
        self.lab = lab
        self.hardware_target = hardware_target
        self.vendor = vendor
        self.currency = currency
        self.ceiling = ceiling
        self.lab_caps = lab_caps
        self.ledger_path = ledger_path
        self.snapshot_date = snapshot_date
        self.prices = prices  # per-GPU $/hour by vendor
        self.gpus = gpus  # GPUs in the instance the estimate assumes (the seed's 2-GPU job)
        self.ledger_url = ledger_url  # postgresql://... to share one ceiling; None: the JSONL file

    @property
    def price_per_gpu_hour(self) -> Decimal:
        return self.prices[self.vendor]


def find(start: Path | None = None) -> Path | None:
    """The manifest of the repository holding ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / MANIFEST_PATH
        if candidate.is_file():
            return candidate
    return None


def load(path: Path) -> Manifest:
    """Read and check a manifest; every problem is a :class:`FileFormatError` naming the field."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the read forever
            raise FileFormatError("not a regular file; give the manifest.json file", path=path)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(f"cannot read the manifest: {exc.strerror}", path=path) from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except ValueError as exc:
        raise FileFormatError(str(exc), path=path) from None
    if not isinstance(data, dict):
        raise FileFormatError("the manifest must be a JSON object", path=path)
    return _build(path, data)


def _build(path: Path, data: dict[str, Any]) -> Manifest:
    def fail(message: str) -> FileFormatError:
        return FileFormatError(message, path=path)

    unknown = sorted(set(data) - set(_FIELDS) - _OPTIONAL)
    if unknown:
        raise fail(f"unknown field {unknown[0]!r}; the fields are {', '.join(_FIELDS)}")
    for name, kind in _FIELDS.items():
        if name not in data:
            raise fail(f"missing field {name!r}")
        if not isinstance(data[name], kind) or isinstance(data[name], bool):
            raise fail(f"field {name!r} has the wrong type ({type(data[name]).__name__})")
    if data["currency"] != "USD":
        raise fail(f"field 'currency' is {data['currency']!r}; only 'USD' is supported")
    try:
        ceiling = parse_usd(data["ceiling_usd"], what="field 'ceiling_usd'")
        caps = _caps(data["ceiling_per_lab"])
        prices = {
            str(vendor): parse_rate(
                _strip_unit(price), what=f"field 'vendor_snapshot_prices.{vendor}'"
            )
            for vendor, price in data["vendor_snapshot_prices"].items()
        }
    except InputError as exc:
        raise fail(str(exc)) from None
    if caps and sum(caps.values()) != ceiling:
        listed = " + ".join(f"{lab} {cap}" for lab, cap in caps.items())
        raise fail(
            f"field 'ceiling_per_lab' adds up to {sum(caps.values())} ({listed}),"
            f" not the ceiling_usd {ceiling}; make the caps add up to the ceiling"
        )
    if data["vendor"] not in prices:
        raise fail(f"field 'vendor_snapshot_prices' has no price for the vendor {data['vendor']!r}")
    resolved = path.resolve()
    at_home = resolved.parts[-len(MANIFEST_PATH.parts) :] == MANIFEST_PATH.parts
    root = resolved.parents[len(MANIFEST_PATH.parts) - 1] if at_home else resolved.parent
    return Manifest(
        path=path,
        root=root,
        seed=data["seed"],
        lab=data["lab"],
        hardware_target=data["hardware_target"],
        vendor=data["vendor"],
        currency="USD",
        ceiling=ceiling,
        lab_caps=MappingProxyType(caps),
        ledger_path=root / data["spend_log_path"],
        snapshot_date=data["vendor_snapshot_date"],
        prices=MappingProxyType(prices),
        gpus=_gpus(data.get("gpus", 2), fail),
        ledger_url=_ledger_url(data.get("ledger_url"), fail),
    )


def _caps(given: dict[str, object]) -> dict[str, Decimal]:
    """Caps keyed by normalised lab; a ``buffer`` is required, or every operation outside the
    listed labs would be capped by nothing but the ceiling."""
    caps: dict[str, Decimal] = {}
    for lab, cap in given.items():
        what = f"field 'ceiling_per_lab.{lab}'"
        key = lab if lab == labs.BUFFER else labs.normalise(lab, what=f"{what}: the key")
        if key in caps:
            raise InputError(f"{what}: lab {key} is capped twice; give each lab one cap")
        caps[key] = parse_usd(cap, what=what)
    if caps and labs.BUFFER not in caps:
        raise InputError(
            "field 'ceiling_per_lab' has no 'buffer': operations outside the listed labs would"
            ' be capped only by the ceiling; add "buffer": DOLLARS (the caps add up to the'
            " ceiling)"
        )
    return caps


def _gpus(value: object, fail: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
        raise fail(f"field 'gpus' is {value!r}; give the GPU count of the instance, e.g. 2")
    return value


def _ledger_url(value: object, fail: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        shown = redact_url(value) if isinstance(value, str) else value
        raise fail(f"field 'ledger_url' is {shown!r}; give postgresql://USER@HOST:PORT/DB")
    return value


def _strip_unit(price: object) -> object:
    """``"$0.34/hr"`` and ``"0.34"`` both mean 0.34 dollars per GPU-hour."""
    return price.removesuffix("/hr").strip() if isinstance(price, str) else price


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number this manifest accepts")
