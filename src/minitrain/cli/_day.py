"""``budget record``, ``launch`` and ``watch``: the day's commands after the pre-flight.

Each takes the label and the estimate from the open reservation (``minitrain.day``), so they are
typed once, at the pre-flight; ``--label`` names one when several are open (a script must).
Each ends with the day's next step.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from decimal import Decimal

from minitrain import day
from minitrain.cli._args import Args
from minitrain.errors import ExitCode, InputError
from minitrain.money import format_usd, parse_rate, parse_usd, usd_text

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain import settings
    from minitrain.budget_guard import BudgetGuard, Operation


def settings_of(args: Args) -> settings.Settings:
    from minitrain import settings

    return settings.resolve(ledger=args.ledger, ceiling=args.ceiling, manifest=args.manifest)


def say(args: Args, text: str, data: dict[str, object]) -> None:
    print(json.dumps(data) if args.json else text)


def _open(guard: BudgetGuard, label: str | None) -> Operation:
    """The open reservation this command acts on (a person at a terminal picks among several)."""
    pick = day.pick_at_terminal if sys.stdin.isatty() else None
    return day.reservation(guard.status(), label, pick=pick)


def _label_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label", help="which open reservation (default: the only one; a list at a terminal)"
    )


def record_arguments(record: argparse.ArgumentParser) -> None:
    record.add_argument(
        "words",
        nargs="*",
        metavar="[LABEL] USD",
        help="what it actually cost, in dollars; a label first names the reservation it closes",
    )
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
    record.add_argument("--op-id", help="the authorization to close (default: the open one)")
    record.add_argument(
        "--unplanned",
        action="store_true",
        help="money spent without a reservation, under a label never used before",
    )


def _label_and_amount(words: list[str], *, from_record: bool) -> tuple[str | None, str | None]:
    """``LABEL USD``, ``USD`` or (with --from-record) ``[LABEL]``: a label starts with a letter
    and an amount never does, so one word is never both."""
    label = words[0] if words and words[0][:1].isalpha() else None
    rest = words[1:] if label is not None else words
    if len(rest) > 1 or (from_record and rest) or (not from_record and not rest):
        raise InputError(
            "give what it cost in dollars (`budget record 2.47`, or `budget record LABEL 2.47`),"
            " or --from-record to compute it (not both)"
        )
    return label, (rest[0] if rest else None)


def record(args: Args) -> int:
    resolved = settings_of(args)
    guard = resolved.guard()
    label, usd = _label_and_amount(args.words, from_record=args.from_record)
    actual = None if usd is None else parse_usd(usd, what="actual")
    if args.unplanned and label is None:
        raise InputError("--unplanned needs a new label: `budget record --unplanned LABEL USD`")
    if label is None:  # a typed label goes to the guard, which names the nearest open ones
        label = _open(guard, None).label
    if actual is None:
        actual = _computed(args, resolved, label)
    guard.record_actual(label, actual, op_id=args.op_id, unplanned=args.unplanned)
    status = guard.status()
    say(
        args,
        f"recorded {label} actual {format_usd(actual)};"
        f" spent {format_usd(status.spent)}, remaining {format_usd(status.remaining)}\n"
        + day.next_step("record"),
        {
            "recorded": label,
            "spent": usd_text(status.spent),
            "remaining": usd_text(status.remaining),
        },
    )
    return ExitCode.OK


def _computed(args: Args, resolved: settings.Settings, label: str) -> Decimal:
    from minitrain import cost

    if resolved.manifest is None:
        raise InputError("--from-record needs the lab manifest (for the price and GPU count)")
    computed = cost.from_record(
        resolved.runs_folder,
        label,
        gpus=resolved.manifest.gpus,
        price=resolved.manifest.price_per_gpu_hour,
        end=cost.parse_end(args.end) if args.end else None,
        granularity_s=args.granularity_s,
    )
    print(f"{label}: {computed.explain()} (from {computed.record.name})", file=sys.stderr)
    return computed.amount


def launch_arguments(go: argparse.ArgumentParser) -> None:
    _label_option(go)
    go.add_argument(
        "--estimate",
        metavar="USD",
        help="only when nothing is open: the estimate of the pre-flight it runs first",
    )
    go.add_argument("--vendor", help="whose CLI lists instances (default: the manifest's)")
    go.add_argument(
        "--watch",
        action="store_true",
        help="start `budget watch` for the new instance in the background",
    )
    go.add_argument("--hours", help="vastai: the on-instance time cap (default and most: 4)")
    go.add_argument("command", nargs=argparse.REMAINDER, help="-- the vendor command and its args")


def launch(args: Args) -> int:
    from minitrain import launch, vendors
    from minitrain.errors import NoReservation, NotPassed

    resolved = settings_of(args)
    guard = resolved.guard()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise InputError("no vendor command: put it after --, e.g. -- runpodctl pod create ...")
    vendor = args.vendor or vendors.of_command(argv, resolved.vendor)
    try:
        opened = _open(guard, args.label)
        label, estimate = opened.label, opened.estimated
    except NoReservation as exc:  # nothing open: the pre-flight first (at a terminal)
        if args.label is None or args.estimate is None:
            raise NotPassed(f"nothing to launch: {exc}") from None
        label, estimate = args.label, parse_usd(args.estimate, what="--estimate")
    assert estimate is not None
    launched = launch.launch(
        guard,
        label=label,
        estimate=estimate,
        argv=argv,
        vendor=vendor,
        records=resolved.runs_folder,
        run_preflight=_preflight_runner(args, label, estimate) if sys.stdin.isatty() else None,
        cap_hours=parse_rate(args.hours, what="--hours") if args.hours else None,
    )
    print(launched.message)
    print(f"record: {launched.record}")
    if args.watch and not launched.instance_id:
        print(
            "no watcher is running: --watch needs the instance id, and the vendor reported"
            " none; once you know it, run `budget watch --instance ID`",
            file=sys.stderr,
        )
    elif args.watch and launched.instance_id:  # even after a failure: it may bill
        log, pid = launch.start_watcher(
            label,
            launched.instance_id,
            vendor=vendor,
            folder=launched.record.parent,
            ledger=resolved.ledger_path,
            account=launched.account,
        )
        print(f"watcher started in the background (pid {pid}); its log: {log}")
    if launched.ok:
        print(day.next_step("launch"))
    return ExitCode.OK if launched.ok else ExitCode.NOT_PASSED


def _preflight_runner(args: Args, label: str, estimate: Decimal) -> Callable[[], object]:
    def run_preflight() -> object:
        from minitrain.preflight.session import Options, run_checklist

        print("no passing pre-flight yet: running it first", file=sys.stderr)
        return run_checklist(
            Options(
                label=label,
                estimate=estimate,
                ledger=args.ledger,
                ceiling=args.ceiling,
                manifest=args.manifest,
            )
        )

    return run_preflight


def watch_arguments(watch: argparse.ArgumentParser) -> None:
    _label_option(watch)
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


def watch(args: Args) -> int:
    from datetime import UTC, datetime

    from minitrain import launch, watch

    resolved = settings_of(args)
    guard = resolved.guard()
    label = args.label or _open(guard, None).label
    folder = resolved.runs_folder
    start = launch.started_at(folder, label, args.instance, given=args.start)
    if args.hours is not None:
        hours = parse_rate(args.hours, what="--hours")
    else:
        hours = watch.default_cap(guard.status(), label, resolved.manifest)
    state = watch.load_or_start(
        folder,
        label=label,
        instance=args.instance,
        vendor=args.vendor or resolved.vendor,
        start=start,
        cap_hours=hours,
    )
    account = launch.watch_account(folder, label, args.instance, api_key=args.api_key, url=args.url)

    was_open = watch.reservation_open(guard.status(), label)

    def closed() -> bool:  # the person recorded the actual: nothing left to watch
        return was_open and not watch.reservation_open(guard.status(), label)

    def say_line(line: str) -> None:
        print(line, flush=True)

    if args.once:  # for cron: a look that could not tell is a failure, so cron mails it
        looked = watch.check(
            folder, state, now=datetime.now(UTC), say=say_line, account=account, closed=closed
        )
        return ExitCode.NOT_PASSED if looked is watch.Look.UNKNOWN else ExitCode.OK
    watch.watch(folder, state, poll_s=args.poll_s, say=say_line, account=account, closed=closed)
    return ExitCode.OK
