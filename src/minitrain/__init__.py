"""minitrain preflight: a pre-flight checklist runner and budget guard for rented cloud GPUs.

The public names are imported on first use (PEP 562), so a command that needs only part of the
package (``budget status``) does not pay for the rest at start-up.
"""

from __future__ import annotations

TYPE_CHECKING = False  # ``typing`` itself costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain.budget_guard import BudgetGuard, BudgetGuardExceeded, UnmatchedActualWarning
    from minitrain.errors import (
        AlreadyRecorded,
        ExitCode,
        InputError,
        Interrupted,
        LedgerError,
        NotPassed,
        PreflightError,
    )

_HOME = {  # each public name -> the module it lives in
    "AlreadyRecorded": "minitrain.errors",
    "BudgetGuard": "minitrain.budget_guard",
    "BudgetGuardExceeded": "minitrain.budget_guard",
    "ExitCode": "minitrain.errors",
    "InputError": "minitrain.errors",
    "Interrupted": "minitrain.errors",
    "LedgerError": "minitrain.errors",
    "NotPassed": "minitrain.errors",
    "PreflightError": "minitrain.errors",
    "UnmatchedActualWarning": "minitrain.budget_guard",
}

__all__ = [
    "AlreadyRecorded",
    "BudgetGuard",
    "BudgetGuardExceeded",
    "ExitCode",
    "InputError",
    "Interrupted",
    "LedgerError",
    "NotPassed",
    "PreflightError",
    "UnmatchedActualWarning",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
