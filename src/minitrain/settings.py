"""Where the numbers come from: flags, then the lab manifest, then the built-in defaults.

``LYNX_CLOUD_BUDGET_USD`` still overrides whatever ceiling this picks (the guard applies it), so a
person can tighten the ceiling without touching a file.
"""

from __future__ import annotations

import os

from minitrain import manifest as manifest_module
from minitrain.budget_guard import CEILING_ENV, DEFAULT_LOG_PATH, BudgetGuard
from minitrain.errors import InputError, LedgerError
from minitrain.ledger import open_ledger
from minitrain.money import parse_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from decimal import Decimal
    from pathlib import Path

    from minitrain.ledger import Ledger
    from minitrain.manifest import Manifest


class Settings:
    """The settings one command runs with. A plain class, not a dataclass: every command builds
    one, and the decorator's work is start-up time. The ledger's path is an ``os.path`` string
    (importing ``pathlib`` is start-up time too)."""

    __slots__ = ("ceiling", "ceiling_source", "ledger_path", "manifest")

    def __init__(
        self,
        manifest: Manifest | None,
        ledger_path: str,
        ceiling: Decimal | None,
        ceiling_source: str,
    ) -> None:
        self.manifest = manifest
        self.ledger_path = ledger_path
        self.ceiling = ceiling
        self.ceiling_source = ceiling_source

    @property
    def runs_folder(self) -> Path:
        """Where the run files live (pre-flight runs, launches, watchers): beside the ledger."""
        from pathlib import Path  # the commands that keep run files use ``pathlib`` anyway

        return Path(self.ledger_path).parent / "preflight"

    @property
    def vendor(self) -> str:
        """Whose CLI lists and terminates instances when a command does not say."""
        return self.manifest.vendor if self.manifest else "runpod"

    def ledger(self) -> Ledger:
        """Where the lines live: LYNX_LEDGER_URL, else the manifest's ledger_url, else the file."""
        return open_ledger(self.ledger_path, self.manifest.ledger_url if self.manifest else None)

    def guard(self) -> BudgetGuard:
        if self.ceiling is None and not _env_ceiling_set():
            raise InputError(
                "no ceiling: run inside the repository (it has "
                f"{manifest_module.MANIFEST_PATH}), pass --ceiling USD, or set {CEILING_ENV}"
            )
        return BudgetGuard(
            self.ceiling,
            self.ledger_path,
            lab_caps=self.manifest.lab_caps if self.manifest else None,
            ceiling_source=self.ceiling_source,
            ledger=self.ledger(),
        )


def resolve(
    *, ledger: str | None = None, ceiling: str | None = None, manifest: str | None = None
) -> Settings:
    """Pick each setting from the most specific place that gives it."""
    path = manifest or manifest_module.find()
    loaded = manifest_module.load(path) if path else None
    if ceiling is not None:
        amount: Decimal | None = parse_usd(ceiling, what="--ceiling")
        source = "--ceiling"
    elif loaded is not None:
        amount, source = loaded.ceiling, f"manifest {loaded.path}"
    else:
        amount, source = None, "none"
    if ledger is not None:
        if not ledger.strip():
            raise LedgerError("--ledger is empty; give the ledger file's path, e.g. spend.jsonl")
        ledger_path = ledger
    elif loaded is not None:
        ledger_path = loaded.ledger_path
    else:
        ledger_path = DEFAULT_LOG_PATH
    return Settings(loaded, ledger_path, amount, source)


def _env_ceiling_set() -> bool:
    return CEILING_ENV in os.environ
