"""``budget db``, ``export``, ``import``, ``verify`` and ``repair``: the ledger's own commands,
each over one function of ``minitrain.ledger.admin``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from minitrain.cli._args import Args
from minitrain.cli._day import say as _say
from minitrain.cli._day import settings_of as _settings
from minitrain.errors import ExitCode

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from decimal import Decimal

    from minitrain.budget_guard import BudgetGuard


def db_arguments(db: argparse.ArgumentParser) -> None:
    db.add_argument("action", choices=["init"], help="create or upgrade the schema")


def export_arguments(export: argparse.ArgumentParser) -> None:
    export.add_argument("--out", metavar="FILE", help="write here (default: stdout)")


def import_arguments(load: argparse.ArgumentParser) -> None:
    load.add_argument("file", help="a spend.jsonl (every line must be sound)")


def repair_arguments(repair: argparse.ArgumentParser) -> None:
    repair.add_argument("--line", type=int, help="void this bad line instead of a torn tail")
    repair.add_argument("--reason", help="why (required with --line)")


def db(args: Args) -> int:
    from minitrain.ledger import admin

    ready = admin.init_schema(_settings(args).ledger())
    _say(args, ready.message(), ready.data())
    return ExitCode.OK


def export(args: Args) -> int:
    from pathlib import Path

    from minitrain.ledger import admin

    exported = admin.export(_settings(args).ledger(), Path(args.out) if args.out else None)
    if args.out:
        print(f"exported {exported.lines} lines to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(exported.data)
    return ExitCode.OK


def import_(args: Args) -> int:
    from minitrain.ledger import admin

    imported = admin.import_file(_settings(args).ledger(), args.file)
    _say(args, imported.message(), imported.data())
    return ExitCode.OK


def verify(args: Args) -> int:
    from minitrain.ledger import admin

    resolved = _settings(args)
    verified = admin.verify(resolved.ledger(), lambda: _limits(resolved.guard()))
    for line in verified.problem_lines():
        print(line, file=sys.stderr)
    verified.require_sound()
    for line in verified.findings:
        print(f"budget: {line}", file=sys.stderr)
    if verified.over:
        return ExitCode.REFUSED
    _say(args, verified.summary(), verified.data())
    return ExitCode.OK


def _limits(guard: BudgetGuard) -> tuple[Decimal, Mapping[str, Decimal]]:
    return guard.ceiling, guard.lab_caps


def repair(args: Args) -> int:
    from minitrain.ledger import admin

    repaired = admin.repair(_settings(args).ledger(), line=args.line, reason=args.reason)
    _say(args, repaired.message(), repaired.data())
    return ExitCode.OK
