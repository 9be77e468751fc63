"""The lab manifest: ``experiments/35-cloud-budget/manifest.json`` -> a checked :class:`Manifest`.

The manifest is the one source of the ceiling, the per-lab caps, the price and the ledger's path;
the documents, the guard and the checklist all read these numbers from here.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from minitrain import labs
from minitrain.errors import FileFormatError, InputError
from minitrain.money import parse_rate, parse_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from os import PathLike
    from pathlib import Path
    from typing import Any

# Paths here are ``os.path`` strings: every command reads the manifest, and importing
# ``pathlib`` (with ``urllib.parse`` and ``ipaddress``) is start-up time.
MANIFEST_PATH = "experiments/35-cloud-budget/manifest.json"
MANIFEST_NAME = "manifest.json"  # beside the ledger it governs
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
        "_root",
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
        "seed",
        "snapshot_date",
        "vendor",
    )

    def __init__(
        self,
        *,
        path: str,
        root: str,
        seed: int,
        lab: str,
        hardware_target: str | Mapping[str, Any],
        vendor: str,
        currency: str,
        ceiling: Decimal,
        lab_caps: Mapping[str, Decimal],
        ledger_path: str,
        snapshot_date: str,
        prices: Mapping[str, Decimal],
        gpus: int = 2,
        ledger_url: str | None = None,
    ) -> None:
        self.path = path
        self._root = root
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

    @property
    def root(self) -> Path:
        """The repository root: paths in the manifest are relative to it (a ``Path`` for the
        pre-flight, which joins checklist paths to it; made when asked, see ``MANIFEST_PATH``)."""
        from pathlib import Path

        return Path(self._root)


def beside(ledger: str) -> str | None:
    """The manifest that governs a JSONL ``ledger``: ``manifest.json`` in the folder of the file
    itself (a symbolic link followed), if there is one. Never one found from the working folder:
    a ledger keeps its caps wherever it is used from."""
    candidate = os.path.join(os.path.dirname(os.path.realpath(ledger)), MANIFEST_NAME)
    return candidate if os.path.isfile(candidate) else None


def same(one: str, other: str) -> bool:
    """Whether two paths name one manifest file (however each is spelled)."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def find(start: str | PathLike[str] | None = None) -> str | None:
    """The manifest of the repository holding ``start`` (default: the working directory)."""
    here = os.path.realpath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, MANIFEST_PATH)
        if os.path.isfile(candidate):
            return candidate
        here, below = os.path.dirname(here), here
        if here == below:  # the file system's root, looked in already
            return None


def load(path: str | PathLike[str]) -> Manifest:
    """Read and check a manifest; every problem is a :class:`FileFormatError` naming the field."""
    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read forever
            raise FileFormatError("not a regular file; give the manifest.json file", path=path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
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


def _build(path: str, data: dict[str, Any]) -> Manifest:
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
    root = _root_of(path)
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
        ledger_path=os.path.join(root, data["spend_log_path"]),
        snapshot_date=data["vendor_snapshot_date"],
        prices=MappingProxyType(prices),
        gpus=_gpus(data.get("gpus", 2), fail),
        ledger_url=_ledger_url(data.get("ledger_url"), fail),
    )


def _root_of(path: str) -> str:
    """The repository root of a manifest at its usual place; else the manifest's folder."""
    folder = os.path.realpath(path)
    home = MANIFEST_PATH.split("/")
    at_home = folder.split(os.sep)[-len(home) :] == home
    for _ in range(len(home) if at_home else 1):
        folder = os.path.dirname(folder)
    return folder


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
        from minitrain._secrets import redact_url  # only to word the error (start-up time)

        shown = redact_url(value) if isinstance(value, str) else value
        raise fail(f"field 'ledger_url' is {shown!r}; give postgresql://USER@HOST:PORT/DB")
    from minitrain._secrets import remember  # its password is a secret for every message

    remember(value)
    return value


def _strip_unit(price: object) -> object:
    """``"$0.34/hr"`` and ``"0.34"`` both mean 0.34 dollars per GPU-hour."""
    return price.removesuffix("/hr").strip() if isinstance(price, str) else price


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number this manifest accepts")
