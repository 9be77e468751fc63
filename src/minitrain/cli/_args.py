"""The command lines of `budget` and `preflight`: argparse reads every one of them.

One parser per program, with one sub-parser per command. argparse's own error exit (usage on
stderr, status 2) is replaced through ``ArgumentParser.error``, which argparse documents for
that purpose: a refused command line becomes a :class:`UsageError`, so the one error handler
prints it like every other error (as JSON too, with ``--json``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import NoReturn

from minitrain.errors import InputError

Args = argparse.Namespace

# What each command is: its one-line help (and an example), what adds its arguments, the
# function it runs.
Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[Args], int]]

__all__ = ["Args", "Command", "Parser", "UsageError", "build"]


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


def build(
    prog: str,
    description: str,
    commands: Mapping[str, Command],
    *,
    common: Callable[[argparse.ArgumentParser, bool], None] | None = None,
    examples: Mapping[str, str] | None = None,
) -> Parser:
    """The parser of ``prog`` and every command in ``commands``. ``common`` adds the options
    every command takes (called with ``after_command``); ``examples`` ends a command's help."""
    parser = Parser(prog=prog, description=description)
    if common:
        common(parser, False)
    parser.add_argument("--version", action=Version)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, func) in commands.items():
        example = (examples or {}).get(name)
        one = sub.add_parser(
            name,
            help=help_text,
            description=help_text.replace("%%", "%"),
            epilog=f"example: {example}" if example else None,
        )
        if common:
            common(one, True)
        add_arguments(one)
        one.set_defaults(func=func)
    return parser
