"""``budget``: the guard from a shell. Parses arguments and calls one library function each.

It must start fast and never imports the prompt library.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from minitrain.cli import _books, _day
from minitrain.cli._args import Args, Command, parse
from minitrain.cli._handler import run, wants_json
from minitrain.errors import ExitCode, InputError
from minitrain.money import format_usd, parse_usd, usd_text

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain.budget_guard import Status
    from minitrain.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)

    def command() -> int:
        args = parse(
            argv,
            prog="budget",
            description="Keep cloud GPU spend under a hard ceiling.",
            commands=_COMMANDS,
            common=_add_common,
            examples=_EXAMPLES,
        )
        return int(args.func(args))

    return run("budget", command, json=wants_json(argv))


def _add_common(parser: argparse.ArgumentParser, after_command: bool) -> None:
    """The options of every command, taken before the command (`budget --ledger X status`, as
    git and docker do) or after it; after it, an option left out keeps the one given before."""
    unset: object = argparse.SUPPRESS if after_command else None
    parser.add_argument("--ledger", metavar="PATH", default=unset, help="the spend ledger")
    parser.add_argument("--ceiling", metavar="USD", default=unset, help="the ceiling")
    parser.add_argument("--manifest", metavar="PATH", default=unset, help="the lab manifest")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if after_command else False,
        help="print JSON instead of text",
    )


def _init_arguments(init: argparse.ArgumentParser) -> None:
    init.add_argument("--cap", action="append", default=[], metavar="LAB=USD", help="a lab's cap")
    init.add_argument("--buffer", metavar="USD", help="outside the labs (default: what is left)")
    init.add_argument("--vendor", help="who you rent from: runpod or vast (default: none)")
    init.add_argument("--price", metavar="USD", help="the vendor's price per GPU-hour")


def _status_arguments(status: argparse.ArgumentParser) -> None:
    status.add_argument("--all", action="store_true", help="list every operation, not only open")


def _authorize_arguments(authorize: argparse.ArgumentParser) -> None:
    authorize.add_argument("label", help="the operation, e.g. lab02-tp-spinup")
    authorize.add_argument("usd", help="its estimated cost in dollars, e.g. 3.00")
    authorize.add_argument("--lab", help="the lab it belongs to (default: from a labNN- label)")


def _report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("--png", metavar="FILE", help="also save a chart (needs matplotlib)")


_settings = _day.settings_of


def _init(args: Args) -> int:
    from minitrain import init

    if args.ledger or args.manifest:
        raise InputError("init takes no --ledger or --manifest: it writes both, beside each other")
    done = init.init(
        ceiling=args.ceiling,
        caps=args.cap,
        buffer=args.buffer,
        vendor=args.vendor,
        price=args.price,
        ask=input if sys.stdin.isatty() else None,
    )
    _say(args, done.message(), done.data())
    return ExitCode.OK


def _status(args: Args) -> int:
    from minitrain import status_view

    resolved = _settings(args)
    guard = resolved.guard()
    status = guard.status()
    operations = guard.operations() if args.all else list(status.open_operations)
    if args.json:
        print(json.dumps(status_view.status_json(status, operations), indent=2))
    else:
        print(status_view.status_text(status, operations, listed="all" if args.all else "open"))
        if status.open_operations:
            _next_steps(resolved, status)
    return ExitCode.OK


def _next_steps(resolved: Settings, status: Status) -> None:
    """What comes next for each open reservation: launch it, or close it (issue 23)."""
    from minitrain import day, launches

    for op in status.open_operations:
        launched = any(launches.of_label(resolved.runs_folder, op.label))
        print(day.next_for(op, launched=launched, vendor=resolved.vendor))


def _report(args: Args) -> int:
    from pathlib import Path

    from minitrain import report

    if args.png:
        report.require_chart()  # before printing anything: a failure is the whole answer
    guard = _settings(args).guard()
    built = report.build(guard.status(), guard.operations())
    print(json.dumps(report.as_json(built), indent=2) if args.json else report.text(built))
    if args.png:
        report.png(built, Path(args.png))
        print(f"chart: {args.png}", file=sys.stderr)
    return ExitCode.OK


def _authorize(args: Args) -> int:
    guard = _settings(args).guard()
    estimate = parse_usd(args.usd, what="estimate")
    op_id = guard.authorize(args.label, estimate, lab=args.lab)
    status = guard.status()
    _say(
        args,
        f"authorized {args.label} {format_usd(estimate)};"
        f" remaining {format_usd(status.remaining)} of {format_usd(status.ceiling)}",
        {"authorized": args.label, "op_id": op_id, "remaining": usd_text(status.remaining)},
    )
    return ExitCode.OK


_say = _day.say


def _only_common(parser: argparse.ArgumentParser) -> None:
    """A command that takes only the options every command takes."""


# Every command, in the order `budget --help` lists them: its one-line help, what adds its
# arguments (run only for the command invoked, or for all when help or an error lists them), and
# the function it runs.
_COMMANDS: dict[str, Command] = {
    "status": ("ceiling, spent, reserved, remaining", _status_arguments, _status),
    "authorize": ("reserve an estimate", _authorize_arguments, _authorize),
    "record": ("record an operation's actual cost", _day.record_arguments, _day.record),
    "report": ("spend per lab and over time", _report_arguments, _report),
    "launch": (
        "after a passing pre-flight: run the vendor's create command",
        _day.launch_arguments,
        _day.launch,
    ),
    "watch": (
        "warn at 80% of the time cap; terminate the instance at the cap",
        _day.watch_arguments,
        _day.watch,
    ),
    "db": ("the PostgreSQL ledger: db init", _books.db_arguments, _books.db),
    "export": ("the ledger as JSONL lines", _books.export_arguments, _books.export),
    "import": ("JSONL lines into the database", _books.import_arguments, _books.import_),
    "verify": ("check every line of the ledger", _only_common, _books.verify),
    "repair": (
        "void a torn last line (or --line N) by appending",
        _books.repair_arguments,
        _books.repair,
    ),
    "init": ("set up this git repository: manifest, ledger, git lines", _init_arguments, _init),
}
# Each command's help ends with one of these.
_EXAMPLES = {
    "status": "budget status --all",
    "authorize": "budget authorize lab02-tp-spinup 3.00",
    "record": "budget record 2.47   (the open reservation's actual)",
    "report": "budget report --png spend.png",
    "launch": "budget launch -- runpodctl pod create ...",
    "watch": "budget watch --instance 9408",
    "db": "budget db init  (with LYNX_LEDGER_URL=postgresql://lab@db/books)",
    "export": "budget export --out spend-copy.jsonl",
    "import": "budget import spend.jsonl",
    "verify": "budget verify",
    "repair": "budget repair",
    "init": "budget init --ceiling 5.00 --cap 02=3.00",
}
