"""A command line read the way spf13/pflag reads it, for the Go CLIs (runpodctl) we vouch for.

Copied from pflag's ``flag.go`` (``parseArgs``, ``parseLongArg``, ``parseSingleShortArg``), as
cobra calls it with interspersed arguments:

- ``--`` ends the flags; ``--name=value`` and ``--name value``: a flag that takes a value takes
  the next argument whatever it looks like (even ``-x``), and a missing one is an error
  (``flag needs an argument: --name``);
- a boolean flag takes no next argument: ``--name`` is true, ``--name=false`` sets it;
- ``-x value``, ``-xvalue`` and ``-x=value`` for a shorthand;
- a repeated flag's **last** value wins (``Set`` overwrites a string);
- an unknown flag is an error (``unknown flag: --name``, ``unknown shorthand flag: 'x' in -x``);
- anything else (``-`` included) is a positional argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from minitrain._struct import Struct


class Flag(Struct, frozen=True):
    takes_value: bool  # False: a boolean flag
    shorthand: str = ""


class Read(Struct, frozen=True):
    values: dict[str, str]  # long name -> the last value given ("true" for a bare boolean)
    positional: list[str]
    error: str = ""  # what pflag would answer instead of running the command; "" when none


def parse(args: Sequence[str], flags: Mapping[str, Flag]) -> Read:
    values: dict[str, str] = {}
    positional: list[str] = []
    shorthands = {flag.shorthand: name for name, flag in flags.items() if flag.shorthand}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional.extend(rest)
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            flag = flags.get(name)
            if flag is None:
                return Read(values, positional, f"unknown flag: --{name}")
            if has_value or not flag.takes_value:
                values[name] = value if has_value else "true"
            elif rest:
                values[name] = rest.pop(0)
            else:
                return Read(values, positional, f"flag needs an argument: --{name}")
        elif arg.startswith("-") and len(arg) > 1:
            error = _shorthands(arg[1:], rest, flags, shorthands, values)
            if error:
                return Read(values, positional, error)
        else:
            positional.append(arg)
    return Read(values, positional)


def _shorthands(
    letters: str,
    rest: list[str],
    flags: Mapping[str, Flag],
    shorthands: Mapping[str, str],
    values: dict[str, str],
) -> str:
    """``-abc``: booleans a and b, then c; a shorthand that takes a value takes the rest of the
    word (``-ojson``, ``-o=json``) or the next argument."""
    while letters:
        letter, letters = letters[0], letters[1:]
        name = shorthands.get(letter)
        if name is None:
            return f"unknown shorthand flag: {letter!r} in -{letter}{letters}"
        if not flags[name].takes_value:
            if letters.startswith("="):
                values[name], letters = letters[1:], ""
            else:
                values[name] = "true"
            continue
        if letters:
            values[name] = letters.removeprefix("=")
        elif rest:
            values[name] = rest.pop(0)
        else:
            return f"flag needs an argument: {letter!r} in -{letter}"
        return ""
    return ""
