"""minitrain preflight: a pre-flight checklist runner and budget guard for rented cloud GPUs."""

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
