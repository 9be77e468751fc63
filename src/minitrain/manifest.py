"""The lab manifest: ``experiments/35-cloud-budget/manifest.json`` -> a checked :class:`Manifest`.

The manifest is the one source of the ceiling, the per-lab caps, the price and the ledger's path;
the documents, the guard and the checklist all read these numbers from here. It lives in one of
the :data:`HOMES` of a repository: this course's ``experiments/35-cloud-budget/``, or the
``budget/`` that ``budget init`` writes in any other repository. Only the ceiling, the currency
and the ledger's path are required; the course's fields (seed, lab, hardware target), the caps and
the vendor with its prices are optional.
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
    from collections.abc import Iterator
    from os import PathLike
    from pathlib import Path
    from typing import Any

# Paths here are ``os.path`` strings: every command reads the manifest, and importing
# ``pathlib`` (with ``urllib.parse`` and ``ipaddress``) is start-up time.
MANIFEST_PATH = "experiments/35-cloud-budget/manifest.json"
MANIFEST_NAME = "manifest.json"  # beside the ledger it governs
LEDGER_NAME = "spend.jsonl"
# Where a repository keeps its manifest and ledger, relative to its root, in the order looked
# in: this course's folder (the seed's path), then the one ``budget init`` writes elsewhere.
HOMES = ("experiments/35-cloud-budget", "budget")
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "currency": str,
    "ceiling_usd": (Decimal, int),
    "spend_log_path": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "$schema": str,
    "seed": int,
    "lab": str,
    "hardware_target": (str, dict),
    "vendor": str,
    "ceiling_per_lab": dict,
    "vendor_snapshot_date": str,
    "vendor_snapshot_prices": dict,
    "gpus": int,
    "ledger_url": str,
}
_FIELDS = {**_REQUIRED, **_OPTIONAL}


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
        currency: str,
        ceiling: Decimal,
        lab_caps: Mapping[str, Decimal],
        ledger_path: str,
        prices: Mapping[str, Decimal],
        seed: int | None = None,
        lab: str | None = None,
        hardware_target: str | Mapping[str, Any] | None = None,
        vendor: str | None = None,
        snapshot_date: str | None = None,
        gpus: int = 2,
        ledger_url: str | None = None,
    ) -> None:
        self.path = path
        self._root = root
        self.seed = seed  # the course's fields: None outside it
        self.lab = lab
        self.hardware_target = hardware_target
        self.vendor = vendor  # None: the manifest names no vendor (``budget init`` without one)
        self.currency = currency
        self.ceiling = ceiling
        self.lab_caps = lab_caps
        self.ledger_path = ledger_path
        self.snapshot_date = snapshot_date
        self.prices = prices  # per-GPU $/hour by vendor
        self.gpus = gpus  # GPUs in the instance the estimate assumes (the seed's 2-GPU job)
        self.ledger_url = ledger_url  # postgresql://... to share one ceiling; None: the JSONL file

    @property
    def price_per_gpu_hour(self) -> Decimal | None:
        """The vendor's price per GPU-hour; None when the manifest names no vendor or price."""
        return self.prices.get(self.vendor) if self.vendor else None

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
    """The manifest of the repository holding ``start`` (default: the working directory): in one
    of the :data:`HOMES` of ``start`` or a folder above it, never above the repository's root."""
    for folder in _upward(start):
        for home in HOMES:
            candidate = os.path.join(folder, home, MANIFEST_NAME)
            if os.path.isfile(candidate):
                return candidate
    return None


def repository_root(start: str | PathLike[str] | None = None) -> str | None:
    """The root of the git repository holding ``start``: the nearest folder with a ``.git``
    (a folder, or the file of a worktree or submodule); None outside any repository."""
    for folder in _upward(start):
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
    return None


def default_ledger(start: str | PathLike[str] | None = None) -> str | None:
    """The ledger when neither a flag nor a manifest names one: a ledger already in one of the
    :data:`HOMES` of ``start`` or above it, else the init folder at the repository's root (never
    the shell's folder, so a ``cd`` cannot start a fresh budget); None outside any repository."""
    for folder in _upward(start):
        for home in HOMES:
            candidate = os.path.join(folder, home, LEDGER_NAME)
            if os.path.isfile(candidate):
                return candidate
    root = repository_root(start)
    return os.path.join(root, HOMES[-1], LEDGER_NAME) if root else None


def _upward(start: str | PathLike[str] | None) -> Iterator[str]:
    """``start`` and each folder above it, up to the repository's root (the first folder with a
    ``.git``) or else the file system's root."""
    here = os.path.realpath(start or os.getcwd())
    while True:
        yield here
        if os.path.exists(os.path.join(here, ".git")):
            return
        here, below = os.path.dirname(here), here
        if here == below:  # the file system's root, looked in already
            return


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
    return build(path, data)


def build(path: str, data: Mapping[str, Any]) -> Manifest:
    """Check a manifest's parsed JSON (as read from ``path``, which places its root); every
    problem is a :class:`FileFormatError` naming the field."""

    def fail(message: str) -> FileFormatError:
        return FileFormatError(message, path=path)

    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise fail(f"unknown field {unknown[0]!r}; the fields are {', '.join(_FIELDS)}")
    for name in _REQUIRED:
        if name not in data:
            raise fail(f"missing field {name!r}")
    for name, value in data.items():
        if not isinstance(value, _FIELDS[name]) or isinstance(value, bool):
            raise fail(f"field {name!r} has the wrong type ({type(value).__name__})")
    if data["currency"] != "USD":
        raise fail(f"field 'currency' is {data['currency']!r}; only 'USD' is supported")
    try:
        ceiling = parse_usd(data["ceiling_usd"], what="field 'ceiling_usd'")
        caps = _caps(data.get("ceiling_per_lab") or {})
        prices = {
            str(vendor): parse_rate(
                _strip_unit(price), what=f"field 'vendor_snapshot_prices.{vendor}'"
            )
            for vendor, price in (data.get("vendor_snapshot_prices") or {}).items()
        }
    except InputError as exc:
        raise fail(str(exc)) from None
    if caps and sum(caps.values()) != ceiling:
        listed = " + ".join(f"{lab} {cap}" for lab, cap in caps.items())
        raise fail(
            f"field 'ceiling_per_lab' adds up to {sum(caps.values())} ({listed}),"
            f" not the ceiling_usd {ceiling}; make the caps add up to the ceiling"
        )
    vendor = data.get("vendor")
    if vendor is not None and prices and vendor not in prices:  # a typo, not a missing price
        raise fail(f"field 'vendor_snapshot_prices' has no price for the vendor {vendor!r}")
    root = _root_of(path)
    return Manifest(
        path=path,
        root=root,
        seed=data.get("seed"),
        lab=data.get("lab"),
        hardware_target=data.get("hardware_target"),
        vendor=vendor,
        currency="USD",
        ceiling=ceiling,
        lab_caps=MappingProxyType(caps),
        ledger_path=os.path.join(root, data["spend_log_path"]),
        snapshot_date=data.get("vendor_snapshot_date"),
        prices=MappingProxyType(prices),
        gpus=_gpus(data.get("gpus", 2), fail),
        ledger_url=_ledger_url(data.get("ledger_url"), fail),
    )


def _root_of(path: str) -> str:
    """The repository root of a manifest in one of the :data:`HOMES`; else the manifest's
    folder."""
    folder = os.path.dirname(os.path.realpath(path))
    parts = folder.split(os.sep)
    for home in HOMES:
        names = home.split("/")
        if parts[-len(names) :] == names:
            return os.sep.join(parts[: -len(names)]) or os.sep
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
