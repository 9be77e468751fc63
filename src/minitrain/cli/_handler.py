"""The one place that turns errors into a message on stderr and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Collection, Sequence

from minitrain.errors import ExitCode, Interrupted, PreflightError, Stopped

DEBUG_ENV = "MINITRAIN_DEBUG"


def run(prog: str, command: Callable[[], int]) -> int:
    """Run ``command``; a known error is one plain line, an unknown one a line and a hint."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = command()
        except PreflightError as exc:
            code = _say(prog, _kind(exc), str(exc), exc.exit_code)
        except KeyboardInterrupt:
            code = _say(
                prog,
                "interrupted",
                "stopped by Ctrl-C; `budget status` shows what the ledger holds",
                ExitCode.INTERRUPTED,
            )
        except BrokenPipeError:
            code = ExitCode.OK  # `budget status | head`: the reader left; not our failure
        except Exception as exc:  # noqa: BLE001 - the last resort, by design
            if os.environ.get(DEBUG_ENV):
                import traceback

                traceback.print_exc()
            code = _say(
                prog,
                "internal error",
                f"{type(exc).__name__}: {exc} (a bug; rerun with {DEBUG_ENV}=1 for the traceback"
                " and report it)",
                ExitCode.INTERNAL,
            )
        finally:
            for warning in caught:
                print(f"{prog}: warning: {warning.message}", file=sys.stderr)
    return int(code)


def parse_args(
    build: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None
) -> argparse.Namespace:
    """``build()``'s parser applied to ``argv``, its words looked up in no catalog.

    argparse asks gettext for each of its words as it builds a parser, and each look-up searches
    the disk for a catalog (the first imports ``locale``): ~1 ms of `budget status`'s ~28. Python
    ships no catalog for these words and this program installs none, so each word is its own
    translation anyway. The look-up is put back afterwards, for a caller that runs ``main`` in
    its own process and has catalogs of its own."""
    translate = argparse._  # type: ignore[attr-defined]
    argparse._ = str  # type: ignore[attr-defined]
    try:
        return build().parse_args(argv)
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def command_named(
    argv: Sequence[str], commands: Collection[str], take_a_value: Collection[str] = ()
) -> str | None:
    """The command ``argv`` runs, read before parsing so that only its subparser is built (the
    commands must start fast); None (build them all) when there is none or it is unknown, so
    ``--help`` and the "invalid choice" error still list every command. ``take_a_value``: the
    options before the command whose value is the next argument."""
    values = iter(argv)
    for arg in values:
        if arg in ("--", "-h", "--help"):  # the top-level help lists every command
            return None
        if _takes_a_value(arg, take_a_value):
            next(values, None)
        elif not arg.startswith("-"):
            return arg if arg in commands else None
    return None


def _takes_a_value(arg: str, options: Collection[str]) -> bool:
    """``--ledger`` or, as argparse accepts it, an abbreviation (``--led``); not ``--ledger=X``."""
    return arg.startswith("--") and "=" not in arg and any(o.startswith(arg) for o in options)


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
    commands must start fast)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("minitrain-preflight")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            version = "(not installed)"
        print(f"{parser.prog} {version}")  # on stdout, as `git --version`
        parser.exit()


def _kind(exc: PreflightError) -> str:
    """A person's own `stop` or Ctrl-C is their decision, not an error."""
    return "stopped" if isinstance(exc, (Interrupted, Stopped)) else "error"


def _say(prog: str, kind: str, message: str, code: ExitCode) -> ExitCode:
    print(f"{prog}: {kind}: {message}", file=sys.stderr)
    return code
