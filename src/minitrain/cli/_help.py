"""What argparse draws for the commands: help sized without ``shutil``, and ``--version``.

Imported only when argparse is: a plain command line (see ``cli._args``) needs neither."""

from __future__ import annotations

import argparse
import os
import sys


class Formatter(argparse.HelpFormatter):
    """argparse's own formatter, sized without ``shutil``: argparse builds one for every argument
    added, and ``shutil`` (which imports ``bz2`` and ``lzma``) costs the commands' start-up while
    only ``--help`` and errors draw anything. The width is ``shutil.get_terminal_size``'s rule."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _columns() - 2  # argparse's own margin
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    """``$COLUMNS`` when it is a positive number, else the terminal's width, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout else 0) or 80
    except (ValueError, OSError):  # stdout closed, or not a terminal
        return 80


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
