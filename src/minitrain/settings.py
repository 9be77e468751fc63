"""Where the numbers come from: flags, then the lab manifest, then the built-in defaults.

The manifest that governs a JSONL ledger is the one beside it (``manifest.json`` in the ledger
file's own folder, as ``experiments/35-cloud-budget/`` keeps them), never one found from the
working folder: a ledger keeps its caps wherever it is used from. The manifest found from the
working folder (or named by ``--manifest``) only says where the ledger is when ``--ledger`` does
not. A ledger with no manifest beside it is written only with an explicit ceiling (``--ceiling``
or ``LYNX_CLOUD_BUDGET_USD``), and every write says that no lab caps apply. A ledger in
PostgreSQL (``LYNX_LEDGER_URL``) keeps the manifest found from the working folder.

``LYNX_CLOUD_BUDGET_USD`` still overrides whatever ceiling this picks (the guard applies it), so a
person can tighten the ceiling without touching a file.
"""

from __future__ import annotations

import os

from minitrain import manifest as manifest_module
from minitrain.budget_guard import CEILING_ENV, DEFAULT_LOG_PATH, BudgetGuard
from minitrain.errors import InputError, LedgerError
from minitrain.ledger import LEDGER_URL_ENV, open_ledger
from minitrain.money import format_usd, parse_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from decimal import Decimal
    from pathlib import Path
    from types import TracebackType

    from minitrain.ledger import Ledger, Transaction
    from minitrain.ledger.entries import Entry
    from minitrain.ledger.snapshot import Snapshot
    from minitrain.manifest import Manifest


class NoCapsWarning(UserWarning):
    """A write to a ledger with no manifest beside it: only the ceiling guarded it."""


class Settings:
    """The settings one command runs with. A plain class, not a dataclass: every command builds
    one, and the decorator's work is start-up time. The ledger's path is an ``os.path`` string
    (importing ``pathlib`` is start-up time too)."""

    __slots__ = ("ceiling", "ceiling_source", "ledger_path", "manifest", "uncapped")

    def __init__(
        self,
        manifest: Manifest | None,
        ledger_path: str,
        ceiling: Decimal | None,
        ceiling_source: str,
        *,
        uncapped: bool = False,
    ) -> None:
        self.manifest = manifest
        self.ledger_path = ledger_path
        self.ceiling = ceiling
        self.ceiling_source = ceiling_source
        self.uncapped = uncapped  # a JSONL ledger with no manifest beside it

    @property
    def runs_folder(self) -> Path:
        """Where the run files live (pre-flight runs, launches, watchers): beside the ledger."""
        from pathlib import Path  # the commands that keep run files use ``pathlib`` anyway

        return Path(self.ledger_path).parent / "preflight"

    @property
    def vendor(self) -> str:
        """Whose CLI lists and terminates instances when a command does not say."""
        return (self.manifest.vendor if self.manifest else None) or "runpod"

    def ledger(self) -> Ledger:
        """Where the lines live: LYNX_LEDGER_URL, else the manifest's ledger_url, else the file."""
        return open_ledger(self.ledger_path, self.manifest.ledger_url if self.manifest else None)

    def guard(self) -> BudgetGuard:
        if self.ceiling is None and not _env_ceiling_set():
            if self.uncapped:
                raise InputError(
                    f"no ceiling: the ledger {self.ledger_path} has no manifest.json beside it;"
                    f" pass --ceiling USD, or set {CEILING_ENV} (no lab caps then apply), or use"
                    " the ledger beside its manifest"
                )
            raise InputError(
                "no ceiling: run inside the repository (it has "
                f"{manifest_module.MANIFEST_PATH}), pass --ceiling USD, or set {CEILING_ENV}"
                " (`budget init --ceiling USD` sets a repository up)"
            )
        ledger = self.ledger()
        noted = _SaysNoCaps(ledger) if self.uncapped else None
        guard = BudgetGuard(
            self.ceiling,
            self.ledger_path,
            lab_caps=self.manifest.lab_caps if self.manifest else None,
            ceiling_source=self.ceiling_source,
            ledger=noted or ledger,
        )
        if noted is not None:
            noted.note = (
                f"the ledger {self.ledger_path} has no manifest.json beside it: no lab caps apply,"
                f" only the ceiling {format_usd(guard.ceiling)} ({guard.ceiling_source})"
            )
        return guard


def resolve(
    *, ledger: str | None = None, ceiling: str | None = None, manifest: str | None = None
) -> Settings:
    """Pick each setting from the most specific place that gives it (see the module's
    docstring for which manifest governs a ledger)."""
    if ledger is not None and not ledger.strip():
        raise LedgerError("--ledger is empty; give the ledger file's path, e.g. spend.jsonl")
    if os.environ.get(LEDGER_URL_ENV):  # PostgreSQL: the manifest of the working folder
        path = manifest or manifest_module.find()
        loaded = manifest_module.load(path) if path else None
        ledger_path = ledger or (
            loaded.ledger_path if loaded else manifest_module.default_ledger() or DEFAULT_LOG_PATH
        )
    else:
        ledger_path, loaded = _jsonl(ledger, manifest)
    if ceiling is not None:
        amount: Decimal | None = parse_usd(ceiling, what="--ceiling")
        source = "--ceiling"
    elif loaded is not None:
        amount, source = loaded.ceiling, f"manifest {loaded.path}"
    else:
        amount, source = None, "none"
    uncapped = loaded is None and not os.environ.get(LEDGER_URL_ENV)
    return Settings(loaded, ledger_path, amount, source, uncapped=uncapped)


def _jsonl(ledger: str | None, manifest: str | None) -> tuple[str, Manifest | None]:
    """The JSONL ledger's path and the manifest beside it (None if there is none)."""
    if ledger is None:
        path = manifest or manifest_module.find()
        if path is None:
            ledger = manifest_module.default_ledger()
            if ledger is None:
                raise InputError(
                    "no budget here: no manifest.json or spend.jsonl in this folder or above it,"
                    " and no git repository; run `budget init --ceiling USD` inside your"
                    " repository, or pass --ledger PATH"
                )
        else:  # the manifest says where the ledger is; it governs it only if it is beside it
            named = manifest_module.load(path)
            own = manifest_module.beside(named.ledger_path)
            if own is not None and manifest_module.same(own, named.path):
                return named.ledger_path, named
            ledger = named.ledger_path
    own = manifest_module.beside(ledger)
    if (
        manifest is not None
        and ledger is not None
        and (own is None or not manifest_module.same(own, manifest))
    ):
        raise InputError(
            f"--manifest {manifest} is not the manifest of the ledger {ledger}: a ledger's caps"
            f" come from the manifest.json beside it ({own or 'it has none'}); drop --manifest"
        )
    return ledger, manifest_module.load(own) if own else None


def _env_ceiling_set() -> bool:
    return CEILING_ENV in os.environ


class _SaysNoCaps:
    """A ledger with no manifest beside it: the first write through it says that no lab caps
    applied (a warning, which the CLI's handler prints); otherwise the ledger it wraps."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.location = ledger.location
        self.note = ""
        self.said = False

    def read(self, *, full: bool = False) -> Snapshot:
        return self._ledger.read(full=full)

    def transaction(self) -> _NotedTransaction:
        return _NotedTransaction(self, self._ledger.transaction())

    def __getattr__(self, name: str) -> object:
        return getattr(self._ledger, name)


class _NotedTransaction:
    """One transaction of :class:`_SaysNoCaps` (a hand-made context manager: ``contextlib`` is
    start-up time for every command)."""

    def __init__(self, owner: _SaysNoCaps, inner: AbstractContextManager[Transaction]) -> None:
        self._owner, self._inner = owner, inner

    def __enter__(self) -> _NotedTransaction:
        self._txn = self._inner.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._inner.__exit__(kind, exc, tb)

    @property
    def snapshot(self) -> Snapshot:
        return self._txn.snapshot

    def full(self) -> Snapshot:
        return self._txn.full()

    def holds(self, entry_id: str) -> bool:
        return self._txn.holds(entry_id)

    def append(self, entry: Entry) -> Entry:
        written = self._txn.append(entry)
        if not self._owner.said:
            import warnings  # only when a ledger without caps is written

            self._owner.said = True
            warnings.warn(NoCapsWarning(self._owner.note), stacklevel=2)
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self._txn, name)
