"""``budget``: the guard from a shell. Parses arguments and calls one library function each.

It must start fast and never imports the prompt library.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence

from minitrain.cli._args import Args, Command, build
from minitrain.cli._handler import run, wants_json
from minitrain.errors import ExitCode, InputError
from minitrain.money import format_usd, parse_usd, usd_text

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from decimal import Decimal

    from minitrain import settings
    from minitrain.budget_guard import BudgetGuard


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)

    def command() -> int:
        parser = build(
            "budget",
            "Keep cloud GPU spend under a hard ceiling.",
            _COMMANDS,
            common=_add_common,
            examples=_EXAMPLES,
        )
        args = parser.parse_args(argv)
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


def _record_arguments(record: argparse.ArgumentParser) -> None:
    record.add_argument("label", help="the operation whose reservation it closes")
    record.add_argument("usd", nargs="?", help="what it actually cost (the vendor's bill)")
    record.add_argument(
        "--from-record",
        action="store_true",
        help="compute it: pre-flight start time to now x GPUs x hourly price",
    )
    record.add_argument("--end", help="with --from-record: when the instance ended (UTC ISO time)")
    record.add_argument(
        "--granularity-s",
        type=int,
        default=60,
        help="with --from-record: the vendor's billing step (default 60 s)",
    )
    record.add_argument("--op-id", help="the authorization to close (default: latest open)")
    record.add_argument(
        "--unplanned",
        action="store_true",
        help="money spent without a reservation, under a label never used before",
    )


def _report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("--png", metavar="FILE", help="also save a chart (needs matplotlib)")


def _launch_arguments(go: argparse.ArgumentParser) -> None:
    go.add_argument("--label", required=True, help="the operation the pre-flight authorized")
    go.add_argument("--estimate", required=True, metavar="USD", help="its estimate, in dollars")
    go.add_argument("--vendor", help="whose CLI lists instances (default: the manifest's)")
    go.add_argument(
        "--watch",
        action="store_true",
        help="start `budget watch` for the new instance in the background",
    )
    go.add_argument("--hours", help="vastai: the on-instance time cap (default and most: 4)")
    go.add_argument("command", nargs=argparse.REMAINDER, help="-- the vendor command and its args")


def _watch_arguments(watch: argparse.ArgumentParser) -> None:
    watch.add_argument("--label", required=True, help="the operation the instance belongs to")
    watch.add_argument("--instance", required=True, help="the one instance it may terminate")
    watch.add_argument("--vendor", help="default: the manifest's")
    watch.add_argument("--hours", help="the cap (default: what the estimate buys, at most 4)")
    watch.add_argument("--start", help="when billing started (default: from the launch record)")
    watch.add_argument(
        "--poll-s", type=float, default=30.0, help="seconds between looks (default 30)"
    )
    watch.add_argument("--once", action="store_true", help="look once and exit (for cron)")
    # the account of a create that named its own (vastai --api-key/--url); default: environment
    watch.add_argument("--api-key", help="vastai: the key the create used (default $VAST_API_KEY)")
    watch.add_argument("--url", help="vastai: the API server the create used (default $VAST_URL)")


def _db_arguments(db: argparse.ArgumentParser) -> None:
    db.add_argument("action", choices=["init"], help="create or upgrade the schema")


def _export_arguments(export: argparse.ArgumentParser) -> None:
    export.add_argument("--out", metavar="FILE", help="write here (default: stdout)")


def _import_arguments(load: argparse.ArgumentParser) -> None:
    load.add_argument("file", help="a spend.jsonl (every line must be sound)")


def _repair_arguments(repair: argparse.ArgumentParser) -> None:
    repair.add_argument("--line", type=int, help="void this bad line instead of a torn tail")
    repair.add_argument("--reason", help="why (required with --line)")


def _settings(args: Args) -> settings.Settings:
    from minitrain import settings

    return settings.resolve(ledger=args.ledger, ceiling=args.ceiling, manifest=args.manifest)


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

    guard = _settings(args).guard()
    status = guard.status()
    operations = guard.operations() if args.all else list(status.open_operations)
    if args.json:
        print(json.dumps(status_view.status_json(status, operations), indent=2))
    else:
        print(status_view.status_text(status, operations, listed="all" if args.all else "open"))
    return ExitCode.OK


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


def _record(args: Args) -> int:
    resolved = _settings(args)
    guard = resolved.guard()
    if (args.usd is None) == (not args.from_record):
        raise InputError("give the actual in dollars, or --from-record to compute it (not both)")
    actual = _computed(args, resolved) if args.from_record else parse_usd(args.usd, what="actual")
    guard.record_actual(args.label, actual, op_id=args.op_id, unplanned=args.unplanned)
    status = guard.status()
    _say(
        args,
        f"recorded {args.label} actual {format_usd(actual)};"
        f" spent {format_usd(status.spent)}, remaining {format_usd(status.remaining)}",
        {
            "recorded": args.label,
            "spent": usd_text(status.spent),
            "remaining": usd_text(status.remaining),
        },
    )
    return ExitCode.OK


def _computed(args: Args, resolved: settings.Settings) -> Decimal:
    from minitrain import cost

    if resolved.manifest is None:
        raise InputError("--from-record needs the lab manifest (for the price and GPU count)")
    computed = cost.from_record(
        resolved.runs_folder,
        args.label,
        gpus=resolved.manifest.gpus,
        price=resolved.manifest.price_per_gpu_hour,
        end=cost.parse_end(args.end) if args.end else None,
        granularity_s=args.granularity_s,
    )
    print(f"{args.label}: {computed.explain()} (from {computed.record.name})", file=sys.stderr)
    return computed.amount


def _launch(args: Args) -> int:
    from minitrain import launch, vendors
    from minitrain.money import parse_rate

    resolved = _settings(args)
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    estimate = parse_usd(args.estimate, what="--estimate")
    vendor = args.vendor or vendors.of_command(argv, resolved.vendor)
    launched = launch.launch(
        resolved.guard(),
        label=args.label,
        estimate=estimate,
        argv=argv,
        vendor=vendor,
        records=resolved.runs_folder,
        run_preflight=_preflight_runner(args, estimate) if sys.stdin.isatty() else None,
        cap_hours=parse_rate(args.hours, what="--hours") if args.hours else None,
    )
    print(launched.message)
    print(f"record: {launched.record}")
    if args.watch and not launched.instance_id:
        print(
            "no watcher is running: --watch needs the instance id, and the vendor reported"
            f" none; once you know it, run `budget watch --label {args.label} --instance ID`",
            file=sys.stderr,
        )
    elif args.watch and launched.instance_id:  # even after a failure: it may bill
        log, pid = launch.start_watcher(
            args.label,
            launched.instance_id,
            vendor=vendor,
            folder=launched.record.parent,
            ledger=resolved.ledger_path,
            account=launched.account,
        )
        print(f"watcher started in the background (pid {pid}); its log: {log}")
    return ExitCode.OK if launched.ok else ExitCode.NOT_PASSED


def _preflight_runner(args: Args, estimate: Decimal) -> Callable[[], object]:
    def run_preflight() -> object:
        from minitrain.preflight.session import Options, run_checklist

        print("no passing pre-flight yet: running it first", file=sys.stderr)
        return run_checklist(
            Options(
                label=args.label,
                estimate=estimate,
                ledger=args.ledger,
                ceiling=args.ceiling,
                manifest=args.manifest,
            )
        )

    return run_preflight


def _watch(args: Args) -> int:
    from datetime import UTC, datetime

    from minitrain import launch, watch
    from minitrain.money import parse_rate

    resolved = _settings(args)
    folder = resolved.runs_folder
    vendor = args.vendor or resolved.vendor
    start = launch.started_at(folder, args.label, args.instance, given=args.start)
    if args.hours is not None:
        hours = parse_rate(args.hours, what="--hours")
    else:
        hours = watch.default_cap(resolved.guard().status(), args.label, resolved.manifest)
    state = watch.load_or_start(
        folder,
        label=args.label,
        instance=args.instance,
        vendor=vendor,
        start=start,
        cap_hours=hours,
    )
    account = launch.watch_account(
        folder, args.label, args.instance, api_key=args.api_key, url=args.url
    )
    guard = resolved.guard()
    was_open = watch.reservation_open(guard.status(), args.label)

    def closed() -> bool:  # the person recorded the actual: nothing left to watch
        return was_open and not watch.reservation_open(guard.status(), args.label)

    def say(line: str) -> None:
        print(line, flush=True)

    if args.once:  # for cron: a look that could not tell is a failure, so cron mails it
        looked = watch.check(
            folder, state, now=datetime.now(UTC), say=say, account=account, closed=closed
        )
        return ExitCode.NOT_PASSED if looked is watch.Look.UNKNOWN else ExitCode.OK
    watch.watch(folder, state, poll_s=args.poll_s, say=say, account=account, closed=closed)
    return ExitCode.OK


def _db(args: Args) -> int:
    from minitrain.ledger import admin

    ready = admin.init_schema(_settings(args).ledger())
    _say(args, ready.message(), ready.data())
    return ExitCode.OK


def _export(args: Args) -> int:
    from pathlib import Path

    from minitrain.ledger import admin

    exported = admin.export(_settings(args).ledger(), Path(args.out) if args.out else None)
    if args.out:
        print(f"exported {exported.lines} lines to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(exported.data)
    return ExitCode.OK


def _import(args: Args) -> int:
    from minitrain.ledger import admin

    imported = admin.import_file(_settings(args).ledger(), args.file)
    _say(args, imported.message(), imported.data())
    return ExitCode.OK


def _verify(args: Args) -> int:
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


def _repair(args: Args) -> int:
    from minitrain.ledger import admin

    repaired = admin.repair(_settings(args).ledger(), line=args.line, reason=args.reason)
    _say(args, repaired.message(), repaired.data())
    return ExitCode.OK


def _say(args: Args, text: str, data: dict[str, object]) -> None:
    print(json.dumps(data) if args.json else text)


def _only_common(parser: argparse.ArgumentParser) -> None:
    """A command that takes only the options every command takes."""


# Every command, in the order `budget --help` lists them: its one-line help, what adds its
# arguments (run only for the command invoked, or for all when help or an error lists them), and
# the function it runs.
_COMMANDS: dict[str, Command] = {
    "status": ("ceiling, spent, reserved, remaining", _status_arguments, _status),
    "authorize": ("reserve an estimate", _authorize_arguments, _authorize),
    "record": ("record an operation's actual cost", _record_arguments, _record),
    "report": ("spend per lab and over time", _report_arguments, _report),
    "launch": (
        "after a passing pre-flight: run the vendor's create command",
        _launch_arguments,
        _launch,
    ),
    "watch": (
        "warn at 80%% of the time cap; terminate the instance at the cap",
        _watch_arguments,
        _watch,
    ),
    "db": ("the PostgreSQL ledger: db init", _db_arguments, _db),
    "export": ("the ledger as JSONL lines", _export_arguments, _export),
    "import": ("JSONL lines into the database", _import_arguments, _import),
    "verify": ("check every line of the ledger", _only_common, _verify),
    "repair": ("void a torn last line (or --line N) by appending", _repair_arguments, _repair),
    "init": ("set up this git repository: manifest, ledger, git lines", _init_arguments, _init),
}
# Each command's help ends with one of these.
_EXAMPLES = {
    "status": "budget status --all",
    "authorize": "budget authorize lab02-tp-spinup 3.00",
    "record": "budget record lab02-tp-spinup 2.47",
    "report": "budget report --png spend.png",
    "launch": "budget launch --label lab02-tp-spinup --estimate 3.00 -- runpodctl pod create ...",
    "watch": "budget watch --label lab02-tp-spinup --instance 9408",
    "db": "budget db init  (with LYNX_LEDGER_URL=postgresql://lab@db/books)",
    "export": "budget export --out spend-copy.jsonl",
    "import": "budget import spend.jsonl",
    "verify": "budget verify",
    "repair": "budget repair",
    "init": "budget init --ceiling 5.00 --cap 02=3.00",
}
