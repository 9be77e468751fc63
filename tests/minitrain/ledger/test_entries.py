"""One entry, one line: encoding, the CRC, parsing every prefix, duplicates, void entries."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, LedgerError
from minitrain.ledger import entries, line_format, parser


@pytest.mark.usefixtures("file_mode")
def test_every_byte_prefix_loads_or_is_refused_cleanly(guard: BudgetGuard, ledger: Path) -> None:
    guard.authorize("a", "1.00")
    guard.record_actual("a", "0.25")
    guard.authorize("b", "2.00")
    data = ledger.read_bytes()
    line_ends = {i + 1 for i, byte in enumerate(data) if byte == ord("\n")}
    for cut in range(len(data) + 1):
        snapshot = parser.parse(data[:cut], location="prefix")
        if cut == 0 or cut in line_ends:
            assert not snapshot.problems, cut
        else:
            assert [p.torn for p in snapshot.problems] == [True], cut
            with pytest.raises(LedgerError, match="torn last line"):
                snapshot.require_clean()


@pytest.mark.usefixtures("file_mode")
def test_union_merged_ledgers_verify_and_duplicates_are_caught(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    BudgetGuard(5, a).authorize("shared", "1.00")
    b.write_bytes(a.read_bytes())
    BudgetGuard(5, a).authorize("mine", "1.00")
    BudgetGuard(5, b).authorize("yours", "1.00")
    merged = a.read_bytes() + b.read_bytes().splitlines(keepends=True)[1]
    snapshot = parser.parse(merged, location="merged")
    assert not snapshot.problems
    duplicated = parser.parse(merged + a.read_bytes().splitlines(keepends=True)[0], location="d")
    assert "duplicate id" in duplicated.problems[0].reason


def test_a_void_entry_takes_its_bad_line_out_of_the_books(tmp_path: Path) -> None:
    """``void`` is a kind of entry: encoded like any other, it names the bad line by its bytes."""
    good = line_format.encode(entries.new_entry("authorize", "a", estimated=Decimal("1.00")))
    torn = line_format.encode(entries.new_entry("authorize", "b", estimated=Decimal("2.00")))[:20]
    [bad] = parser.parse(good + torn, location="t").problems
    void = line_format.encode(entries.void_of(bad, "torn"))
    assert b'"kind":"void"' in void
    assert b'"voids":{"offset":' in void
    healed = parser.parse(good + torn + b"\n" + void, location="t")
    assert not healed.problems
    assert healed.totals.spent == Decimal("1.00")


@pytest.mark.parametrize("asked", ["before", "after"])
def test_totals_show_the_open_authorizations_as_they_were_when_taken(asked: str) -> None:
    """A parser shares its table of open authorizations with the Totals it hands out, so it
    copies nothing per read: the table must still read as it was when those Totals were taken,
    whether they list it before or after more lines (an actual closing one, a new one) are fed."""
    first = entries.new_entry("authorize", "a", estimated=Decimal("1.00"))
    state = parser.Parser("x", keep_entries=False)
    state.feed(line_format.encode(first))
    early = state.totals
    also_early = state.totals  # two Totals of one moment: one table, one copy at most
    listed = dict(early.open_ops) if asked == "before" else None
    closing = entries.new_entry("actual", "a", estimated=None, actual=Decimal("0.50"))
    state.feed(line_format.encode(closing.replace(op_id=first.id)))
    state.feed(line_format.encode(entries.new_entry("authorize", "b", estimated=Decimal("2.00"))))
    assert list(early.open_ops) == [first.id]
    assert list(also_early.open_ops) == [first.id]
    assert early.reserved == Decimal("1.00")
    if listed is not None:
        assert early.open_ops == listed
    later = state.totals
    assert [e.op_label for e in later.open_ops.values()] == ["b"]
    assert later.reserved == Decimal("2.00")
    state.append(entries.new_entry("authorize", "c", estimated=Decimal("1.00")))
    assert [e.op_label for e in later.open_ops.values()] == ["b"]
    assert sorted(e.op_label for e in state.totals.open_ops.values()) == ["b", "c"]


def test_a_line_too_long_to_keep_is_measured_and_the_lines_after_it_still_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fed block by block, a line past ``LONGEST`` is kept only as its length and CRC (flat
    memory); it is a bad line at its place, and the next line is read at the right offset."""
    import zlib

    from minitrain.ledger import file

    monkeypatch.setattr(line_format, "LONGEST", 1 << 20)
    junk = b"x" * (3 << 20) + b"\n"
    good = line_format.encode(entries.new_entry("authorize", "a", estimated=Decimal("1.25")))
    path = tmp_path / "spend.jsonl"
    path.write_bytes(junk + good + junk[:-1])
    with path.open("rb") as f:
        state = parser.Parser(str(path))
        state.feed(file.FileSpan(f.fileno(), 0, path.stat().st_size, str(path)))
    long, torn = state.snapshot().problems
    assert (long.line, long.offset, long.length) == (1, 0, len(junk) - 1)
    assert long.crc32 == f"{zlib.crc32(junk[:-1]):08x}"
    assert "longer than any this tool writes" in long.reason
    assert (torn.line, torn.offset, torn.torn) == (3, len(junk) + len(good), True)
    assert state.totals.spent == Decimal("1.25")
    assert state.size == path.stat().st_size
