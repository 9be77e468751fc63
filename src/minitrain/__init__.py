"""minitrain preflight: a pre-flight checklist runner and budget guard for rented cloud GPUs."""

from minitrain.budget_guard import BudgetGuard, BudgetGuardExceeded, UnmatchedActualWarning
from minitrain.errors import AlreadyRecorded, ExitCode, InputError, LedgerError, PreflightError

__all__ = [
    "AlreadyRecorded",
    "BudgetGuard",
    "BudgetGuardExceeded",
    "ExitCode",
    "InputError",
    "LedgerError",
    "PreflightError",
    "UnmatchedActualWarning",
]
