"""The command lines of `budget` and `preflight`: argparse reads every one of them.

One parser per program reads the options before the command and its name; the command's own
parser reads the rest. argparse's own error exit (usage on
stderr, status 2) is replaced through ``ArgumentParser.error``, which argparse documents for
that purpose: a refused command line becomes a :class:`UsageError`, so the one error handler
prints it like every other error (as JSON too, with ``--json``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from minitrain.errors import InputError

TYPE_CHECKING = False  # ``typing`` is ~3 ms of `budget status` (issue 20); mypy reads True
if TYPE_CHECKING:
    from typing import NoReturn

Args = argparse.Namespace

# What each command is: its one-line help (and an example), what adds its arguments, the
# function it runs.
Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[Args], int]]

__all__ = ["Args", "Command", "Parser", "UsageError", "parse"]


class UsageError(InputError):
    """A command line argparse could not read: an unknown command or option, a missing value."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, raising instead of exiting on a bad command line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class Version(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked (the
    commands must start fast). It stores nothing, so a parsed command line holds only what its
    command reads."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("minitrain-preflight")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            version = "(not installed)"
        print(f"{parser.prog} {version}")  # on stdout, as `git --version`
        parser.exit()


def _width() -> int:
    """The help's width, read once per command line (``$COLUMNS``, else the terminal, else 80,
    as ``shutil.get_terminal_size`` reads it) and handed to argparse's own formatters: left to
    find it themselves, they import ``shutil`` (with ``bz2`` and ``lzma``) for every command,
    ~4 ms of `budget status` (issue 20's 3x goal), to draw help that is rarely shown."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
            columns = 80
    return max(columns, 40) - 2  # argparse's own margin


def parse(
    argv: Sequence[str],
    *,
    prog: str,
    description: str,
    commands: Mapping[str, Command],
    common: Callable[[argparse.ArgumentParser, bool], None] | None = None,
    examples: Mapping[str, str] | None = None,
) -> Args:
    """``argv`` read by argparse in two steps: the program's parser reads the options before
    the command and the command's name, then that command's own parser reads the rest. Only
    the command run is built: building a parser for each of the eleven was ~5 ms of every
    `budget status` (issue 20's 3x goal). ``common`` adds the options every command takes
    (called with ``after_command``); ``examples`` ends a command's help."""
    listed = "\n".join(f"    {name:<10} {text}" for name, (text, _, _) in commands.items())
    width = _width()
    top = Parser(
        prog=prog,
        description=description,
        epilog=f"commands:\n{listed}\n\n`{prog} COMMAND --help` shows a command's options",
        formatter_class=partial(argparse.RawDescriptionHelpFormatter, width=width),
    )
    if common:
        common(top, False)
    top.add_argument("--version", action=Version)
    top.add_argument("command", metavar="COMMAND", choices=list(commands), help="see below")
    top.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = top.parse_args(argv)
    help_text, add_arguments, func = commands[args.command]
    example = (examples or {}).get(args.command)
    one = Parser(
        prog=f"{prog} {args.command}",
        description=help_text,
        epilog=f"example: {example}" if example else None,
        formatter_class=partial(argparse.HelpFormatter, width=width),
    )
    if common:
        common(one, True)
    add_arguments(one)
    one.parse_args(args.rest, namespace=args)
    args.func = func
    return args
