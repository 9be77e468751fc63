"""The project's one error hierarchy and the exit codes the commands return.

Every error a person can cause or meet derives from :class:`PreflightError` and carries the exit
code it maps to; ``minitrain.cli`` is the only place that turns one into a message and a status.
"""

from __future__ import annotations

import enum

from minitrain.cents import format_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from datetime import datetime
    from decimal import Decimal
    from pathlib import Path


class ExitCode(enum.IntEnum):
    """What the ``budget`` and ``preflight`` commands return. Documented in docs/exit-codes.md."""

    OK = 0  # done; for a dry run: a live run would have been authorized
    NOT_PASSED = 1  # a checklist step failed or the person declined
    BAD_INPUT = 2  # a bad argument, file, amount, answer or environment value
    REFUSED = 3  # the budget guard refused: the ceiling (or a lab cap) would be exceeded
    LEDGER = 4  # the ledger has a bad or torn line and needs a person (see `budget verify`)
    INTERNAL = 70  # a bug: EX_SOFTWARE from sysexits.h
    INTERRUPTED = 130  # Ctrl-C / Ctrl-D / end of input: 128 + SIGINT, as shells report it


class PreflightError(Exception):
    """Base class of every error this project raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class InputError(ValueError, PreflightError):
    """Something a person supplied is not acceptable: an amount, a label, a file, an answer."""

    exit_code = ExitCode.BAD_INPUT


class FileFormatError(InputError):
    """A file (checklist, answers, manifest) is malformed; the message names the file and line."""

    def __init__(self, message: str, *, path: Path | str, line: int | None = None) -> None:
        from pathlib import Path  # only when one is raised: every command imports this module

        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line


class BudgetGuardExceeded(PreflightError):
    """Raised when an operation would exceed the budget.

    Carries the numbers so a caller can show them; the message already says them.
    """

    exit_code = ExitCode.REFUSED

    def __init__(
        self,
        *,
        op_label: str,
        estimated: Decimal,
        spent: Decimal,
        limit: Decimal,
        limit_name: str = "ceiling",
    ) -> None:
        self.op_label = op_label
        self.estimated = estimated
        self.spent = spent
        self.limit = limit
        self.limit_name = limit_name
        self.remaining = limit - spent
        super().__init__(
            f"refused {op_label!r}: estimate {format_usd(estimated)} + spent {format_usd(spent)}"
            f" = {format_usd(spent + estimated)} would exceed the {limit_name}"
            f" {format_usd(limit)} (remaining {format_usd(self.remaining)})"
        )


class AlreadyRecorded(InputError):
    """``record_actual`` was asked to close an authorization that already has its actual."""


class AlreadyOpen(InputError):
    """``authorize`` was asked to open a second reservation of a label that has one open (labels
    compared without regard to case): one label, one open reservation. The message names the
    open one (amount, time, op id) and the way to close it; every backend raises this one."""

    def __init__(
        self, *, op_label: str, op_id: str, estimated: Decimal, at: datetime | None
    ) -> None:
        when = f"{at:%Y-%m-%d %H:%M} UTC" if at else "(unknown time)"
        super().__init__(
            f"{op_label} already has an open reservation: {format_usd(estimated)} authorized"
            f" {when} (op id {op_id}); a second one would reserve twice for one operation."
            f" If that run is over, record what it cost: `budget record {op_label} USD`"
            " (0.00 if nothing was started); for another operation use another label"
        )
        self.op_label, self.op_id = op_label, op_id


class NoReservation(InputError):
    """An actual was given for a label with no open reservation (a typo, or money spent without
    one): refused before anything is written, unless it is said to be unplanned."""


class LedgerError(PreflightError):
    """The ledger cannot be trusted as it is; a person must look (``budget verify``)."""

    exit_code = ExitCode.LEDGER


class NotPassed(PreflightError):
    """A checklist did not pass: a check failed or the person declined."""

    exit_code = ExitCode.NOT_PASSED


class Stopped(NotPassed):
    """The person typed ``stop``: their own decision, not an error (nothing was authorized)."""


class Interrupted(PreflightError):
    """Ctrl-C, Ctrl-D or end of input: nothing was authorized."""

    exit_code = ExitCode.INTERRUPTED
