"""Reading a command line: a plain one directly, any other with argparse.

argparse is the authority on every command line, but importing it (with ``gettext``) and its
first parse are ~2.5 ms of `budget status`'s ~27 (issue 13). So a *plain* command line, one
command that takes only options, each written out in full, is read here without it: the
commands people type most (`budget status`, `budget status --json`) start without argparse.
Anything else, help and every error included, goes to argparse: a plain reading never accepts
what argparse would refuse, and reads what it accepts as argparse does
(`tests/minitrain/cli/test_args.py` throws command lines at both to check it)."""

from __future__ import annotations

import sys
from types import SimpleNamespace as Args  # what argparse fills too: one type for handlers

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Collection, Mapping, Sequence

    # What each command is: its one-line help, what adds its arguments, the function it runs.
    Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[Args], int]]
    # The options written "--name VALUE" or "--name=VALUE", and the flags ("--name").
    Options = tuple[Collection[str], Collection[str]]

__all__ = ["Args", "parse_args"]


def parse_args(
    argv: Sequence[str] | None,
    build: Callable[[str | None], argparse.ArgumentParser],
    commands: Mapping[str, Command],
    *,
    common: Options = ((), ()),
    plain: Mapping[str, Options] | None = None,
) -> Args:
    """``argv`` (default: this process's) read plainly if it is plain, else parsed by the
    parser ``build(command)`` makes: of that command alone, or of all when the command is
    unknown. ``common``: the options taken before the command (and after it); ``plain``: the
    commands that take only options, and theirs."""
    argv = sys.argv[1:] if argv is None else argv
    read = _read_plain(argv, plain or {}, common)
    if read is not None:
        command, args = read
        args.func = commands[command][2]
        return args
    import argparse

    # argparse asks gettext for each of its words as it builds a parser, and each look-up
    # searches the disk for a catalog (the first imports ``locale``): ~1 ms. Python ships no
    # catalog for these words and this program installs none, so each word is its own
    # translation anyway. Put back afterwards, for a caller with catalogs of its own.
    translate = argparse._  # type: ignore[attr-defined]
    argparse._ = str  # type: ignore[attr-defined]
    try:
        parser = build(_command_named(argv, commands, common[0]))
        return parser.parse_args(argv, namespace=Args())
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def _read_plain(
    argv: Sequence[str], plain: Mapping[str, Options], common: Options
) -> tuple[str, Args] | None:
    """The command and its options (every one of them: None or False when not given, the last
    one given when given twice, as argparse does), or None when ``argv`` is not plain: no
    command, a second word, an unknown or abbreviated option, a flag given a value, or a value
    that is missing or starts with "-" (which argparse may read as an option)."""
    values, flags = common
    given: dict[str, str | bool | None] = dict.fromkeys(values)
    given.update(dict.fromkeys(flags, False))
    command = None
    words = iter(argv)
    for word in words:
        if not word.startswith("-"):
            if command is not None or word not in plain:
                return None
            command = word
            more_values, more_flags = plain[word]
            values, flags = (*values, *more_values), (*flags, *more_flags)
            given.update(dict.fromkeys(more_values))
            given.update(dict.fromkeys(more_flags, False))
            continue
        option, equals, value = word.partition("=")
        if option in values:
            value = value if equals else next(words, "-")
            if value.startswith("-"):
                return None
            given[option] = value
        elif word in flags:
            given[word] = True
        else:
            return None
    if command is None:
        return None
    return command, Args(**{option[2:].replace("-", "_"): v for option, v in given.items()})


def _command_named(
    argv: Sequence[str], commands: Collection[str], take_a_value: Collection[str]
) -> str | None:
    """The command ``argv`` runs, read before parsing so that only its subparser is built (the
    commands must start fast); None (build them all) when there is none or it is unknown, so
    ``--help`` and the "invalid choice" error still list every command. ``take_a_value``: the
    options before the command whose value is the next argument."""
    words = iter(argv)
    for word in words:
        if word in ("--", "-h", "--help"):  # the top-level help lists every command
            return None
        if _takes_a_value(word, take_a_value):
            next(words, None)
        elif not word.startswith("-"):
            return word if word in commands else None
    return None


def _takes_a_value(word: str, options: Collection[str]) -> bool:
    """``--ledger`` or, as argparse accepts it, an abbreviation (``--led``); not ``--ledger=X``."""
    return word.startswith("--") and "=" not in word and any(o.startswith(word) for o in options)
