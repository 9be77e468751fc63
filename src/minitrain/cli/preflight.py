"""``preflight``: run, lint and render checklists. Parses arguments and calls one function each."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from minitrain.cli._args import Args, Command, parse
from minitrain.cli._handler import run, wants_json
from minitrain.errors import ExitCode, InputError, NotPassed

TYPE_CHECKING = False  # ``typing`` is start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain.vendors import Account


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)

    def command() -> int:
        args = parse(
            argv,
            prog="preflight",
            description="Run the pre-flight checklist before renting GPUs.",
            commands=_COMMANDS,
            examples=_EXAMPLES,
        )
        return int(args.func(args))

    return run("preflight", command, json=wants_json(argv))


def _run_arguments(go: argparse.ArgumentParser) -> None:
    go.add_argument(
        "name",
        nargs="?",
        metavar="CHECKLIST",
        help="pre-flight (the default), post-start, post-flight, or a path to a YAML file",
    )
    go.add_argument(
        "--label", help="the pre-flight's operation, e.g. lab02-tp-spinup (later: the open one)"
    )
    go.add_argument("--estimate", metavar="USD", help="the pre-flight's estimated cost")
    go.add_argument("--lab", help="the lab it draws on (default: from a labNN- label)")
    go.add_argument("--checklist", help="the same as CHECKLIST (kept for scripts)")
    go.add_argument("--answers", type=Path, metavar="FILE", help="scripted answers (YAML)")
    go.add_argument("--dry-run", action="store_true", help="never write the ledger")
    go.add_argument("--records", type=Path, metavar="DIR", help="where the record goes")
    go.add_argument("--ledger", metavar="PATH", help="the spend ledger (default: the lab's)")
    go.add_argument("--ceiling", metavar="USD", help="the ceiling (default: the manifest's)")
    go.add_argument("--manifest", metavar="PATH", help="the lab manifest")
    go.add_argument(
        "--api-key", help="vastai: the account the create will name (default $VAST_API_KEY)"
    )
    go.add_argument("--url", help="vastai: the API server the create will use (default $VAST_URL)")


def _lint_arguments(lint: argparse.ArgumentParser) -> None:
    lint.add_argument("checklist", type=Path, help="a checklist YAML file, or a name: pre-flight")


def _render_arguments(render: argparse.ArgumentParser) -> None:
    render.add_argument("checklist", type=Path, nargs="+", help="checklist YAML files")


def _hardware_arguments(hw: argparse.ArgumentParser) -> None:
    hw.add_argument("--gpu", help="expected GPU name part, e.g. 'RTX 4090' (default: manifest)")
    hw.add_argument("--count", type=int, help="expected number of GPUs")
    hw.add_argument("--memory-mib", type=int, help="expected memory per GPU, at least")
    hw.add_argument(
        "--nvlink",
        action=argparse.BooleanOptionalAction,
        help="require NVLink between GPU0 and GPU1 (or not)",
    )
    hw.add_argument("--manifest", metavar="PATH", help="the lab manifest (for its target)")
    hw.add_argument("--json", action="store_true", help="print JSON instead of text")


def _run(args: Args) -> int:
    from minitrain.preflight.session import Options, run_checklist

    outcome = run_checklist(
        Options(
            label=args.label,
            estimate=args.estimate,
            lab=args.lab,
            checklist=args.name or args.checklist,
            answers=args.answers,
            dry_run=args.dry_run,
            records=args.records,
            ledger=args.ledger,
            ceiling=args.ceiling,
            manifest=args.manifest,
            account=_account(args),
        )
    )
    print(f"\n{outcome.message}\nrecord: {outcome.record}\n{outcome.next}")
    return ExitCode.OK


def _account(args: Args) -> Account | None:
    """The account flags the create will name, kept in memory for the listing (issue 22)."""
    from minitrain.vendors import Account

    return Account(args.api_key, args.url) if args.api_key or args.url else None


def _lint(args: Args) -> int:
    from minitrain import checklists
    from minitrain.preflight import checklist, lint

    findings = lint.lint(checklist.load(checklists.locate(args.checklist)))
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        return ExitCode.BAD_INPUT
    print(f"{args.checklist}: ok")
    return ExitCode.OK


def _render(args: Args) -> int:
    from minitrain import checklists
    from minitrain.preflight import checklist, render

    loaded = [checklist.load(checklists.locate(p)) for p in args.checklist]
    sys.stdout.write("\n".join(render.markdown(one) for one in loaded))
    return ExitCode.OK


def _hardware(args: Args) -> int:
    from minitrain import hardware

    target = hardware.expected(
        manifest=args.manifest,
        gpu=args.gpu,
        count=args.count,
        memory_mib=args.memory_mib,
        nvlink=args.nvlink,
    )
    found = hardware.read()
    problems = hardware.compare(found, target) if target else []
    if args.json:
        print(json.dumps({**hardware.as_json(found), "problems": problems}, indent=2))
    else:
        print(f"found: {found.describe()}")
    if target is None:
        raise InputError(
            "nothing to compare with: fill in the manifest's hardware_target (e.g."
            ' {"gpu": "RTX 4090", "count": 2, "memory_mib": 24000, "nvlink": false}) or pass'
            " --gpu and --count"
        )
    if problems:
        raise NotPassed(
            f"paid for {target.describe()}; found {found.describe()}: " + "; ".join(problems)
        )
    if not args.json:
        print(f"ok: as paid for ({target.describe()})")
    return ExitCode.OK


def _schema(args: Args) -> int:
    from minitrain.preflight import fields

    print(json.dumps(fields.schema(), indent=2))
    return ExitCode.OK


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command that takes no arguments."""


# Every command, in the order `preflight --help` lists them: its one-line help, what adds its
# arguments (run only for the command invoked, or for all when help or an error lists them), and
# the function it runs.
_COMMANDS: dict[str, Command] = {
    "run": ("walk the checklist; authorize the estimate if all pass", _run_arguments, _run),
    "lint": ("check a checklist against the schema and human factors", _lint_arguments, _lint),
    "render": ("print checklists as Markdown", _render_arguments, _render),
    "hardware": ("on the instance: are these the GPUs paid for?", _hardware_arguments, _hardware),
    "schema": ("print the checklist JSON Schema", _no_arguments, _schema),
}
# Each command's help ends with one of these.
_EXAMPLES = {
    "run": "preflight run --label lab02-tp-spinup --estimate 3.00",
    "lint": "preflight lint checklists/pre-flight.yaml",
    "render": "preflight render checklists/pre-flight.yaml",
    "hardware": "preflight hardware --gpu 'RTX 4090' --count 2",
    "schema": "preflight schema > checklist.schema.json",
}
