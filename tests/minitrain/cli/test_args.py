"""A plain command line (`budget status --json`) is read without argparse, for start-up time;
argparse stays the authority: whatever it would refuse or read otherwise is never read plainly.

The property test throws command lines at both readers, built from every option and command the
plain reader knows and from the words a person gets wrong (an abbreviation, a flag given a
value, a value that looks like an option, `--`, `-h`, a second command, any Unicode)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minitrain.cli import _args, budget

_VALUES = {*budget._COMMON[0], *(o for values, _ in budget._PLAIN.values() for o in values)}
_FLAGS = {*budget._COMMON[1], *(o for _, flags in budget._PLAIN.values() for o in flags)}
# A value, now and then one that argparse may read as an option.
_VALUE = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["spend.jsonl", "5.00", "", "status", "-5", "-x", "--json", "-"]),
)
# What a person gets wrong: an abbreviation argparse would take, a flag given a value, `--`,
# help, a second command, a stray word; after an option, a value that may read as an option.
_SLIPS = st.one_of(
    st.sampled_from(
        [
            *(option[:5] for option in sorted(_VALUES | _FLAGS)),
            *(f"{flag}={v}" for flag in sorted(_FLAGS) for v in ("", "1")),
            *("--", "-", "-h", "-x", "-5", "--help", "--version", "--jsonx"),
            *budget._COMMANDS,
        ]
    ),
    st.text(max_size=6),
)


@st.composite
def _argv(draw: st.DrawFn) -> list[str]:
    """Common options, a command (mostly a plain one), its options (now and then any plain
    command's), and now and then a slip put anywhere."""

    def options(most: int, known: list[str]) -> list[str]:
        words: list[str] = []
        for option in draw(st.lists(st.sampled_from(known), max_size=most)):
            if option in _FLAGS:
                words.append(option)
            elif draw(st.booleans()):
                words += [option, draw(_VALUE)]
            else:
                words.append(f"{option}={draw(_VALUE)}")
        return words

    command = draw(st.one_of(st.sampled_from(sorted(budget._PLAIN)), _SLIPS))
    values, flags = budget._PLAIN.get(command, ((), ()))
    own = sorted({*budget._COMMON[0], *budget._COMMON[1], *values, *flags})
    after = draw(st.sampled_from([own, own, own, sorted(_VALUES | _FLAGS)]))
    argv = [*options(3, sorted(budget._COMMON[0] + budget._COMMON[1])), command, *options(4, after)]
    for slip in draw(st.lists(_SLIPS, max_size=1)):
        argv.insert(draw(st.integers(0, len(argv))), slip)
    return argv


def _by_argparse(argv: list[str]) -> dict[str, object] | None:
    """What argparse reads from ``argv`` (None when it refuses it, or prints help and exits)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = _args.parse_args(argv, budget._parser, budget._COMMANDS, common=budget._COMMON)
        except SystemExit:
            return None
    return vars(args)


def _plainly(argv: list[str]) -> dict[str, object] | None:
    read = _args._read_plain(argv, budget._PLAIN, budget._COMMON)
    if read is None:
        return None
    command, args = read
    return {**vars(args), "func": budget._COMMANDS[command][2]}


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_argv())
def test_a_command_line_read_plainly_is_read_as_argparse_reads_it(argv: list[str]) -> None:
    plain = _plainly(argv)
    if plain is not None:
        assert plain == _by_argparse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["status", "--all", "--json"],
        ["--ledger", "x.jsonl", "--json", "status", "--ceiling", "4.00"],
        ["--ceiling=9.00", "status", "--ledger", "x.jsonl", "--ceiling", "3"],  # the last wins
        ["--ledger", "status", "status"],  # a ledger file named "status"
        ["verify", "--manifest", "m.json"],
        ["export", "--out", "copy.jsonl"],
        ["report", "--png=chart.png"],
        ["status", "--ledger", ""],  # argparse takes an empty value, and so refuses it later
    ],
)
def test_the_command_lines_people_type_most_are_read_plainly_and_alike(argv: list[str]) -> None:
    plain = _plainly(argv)
    assert plain is not None  # else they lose the start-up this reading is for
    assert plain == _by_argparse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--json"],  # no command
        ["status", "--led", "x"],  # argparse takes the abbreviation; it is argparse's to read
        ["status", "--json=yes"],  # a flag given a value: argparse's error
        ["status", "--ledger"],  # a value missing: argparse's error
        ["status", "--ledger", "--json"],  # a value that reads as an option
        ["status", "--ceiling", "-5"],  # argparse's to read (it takes "-5" as a value)
        ["status", "extra"],
        ["status", "--all", "x"],  # a flag takes no value
        ["status", "--", "--all"],
        ["--all", "status"],  # a command's option before the command: argparse's error
        ["status", "-h"],
        ["authorize", "lab02-x", "1.00"],  # a command that takes positionals
        ["statuses"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert _args._read_plain(argv, budget._PLAIN, budget._COMMON) is None
