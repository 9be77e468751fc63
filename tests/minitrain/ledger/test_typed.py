"""The two decoders of the line codec agree: the standard library's (small reads, and every line
msgspec cannot type) and msgspec's (long reads: a cold read, a stale rebuild). Same totals, same
entries, same problems with the same line, bytes and reason, on every ledger a test can make.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minitrain import BudgetGuard
from minitrain.ledger import (
    _typed,
    checkpoint,
    entries,
    jsonl,
    line_format,
    parser,
    reader,
    snapshot,
)
from tests.conftest import REPO

CORPUS = sorted((REPO / "tests/data/ledgers").rglob("*.jsonl"))
NEVER = 1 << 62  # a TYPED_READ no feed reaches: the stdlib decoder only


def read(data: bytes, *, typed: bool, keep_entries: bool) -> snapshot.Snapshot:
    """``data`` through one decoder, as the ledger feeds a file (one feed, every check)."""
    saved = parser.TYPED_READ
    parser.TYPED_READ = 0 if typed else NEVER
    try:
        state = parser.Parser("ledger", keep_entries=keep_entries)
        state.feed(data)
        return state.snapshot()
    finally:
        parser.TYPED_READ = saved


def assert_agree(data: bytes) -> snapshot.Snapshot:
    for keep_entries in (False, True):
        stdlib = read(data, typed=False, keep_entries=keep_entries)
        typed = read(data, typed=True, keep_entries=keep_entries)
        assert typed == stdlib  # totals, open entries, problems (line, bytes, reason), lines
    return stdlib


def resealed(body: bytes) -> bytes:
    """A line ending in ``}`` with the CRC ``seal`` would give it: the CRC check passes, so what
    the line says reaches the decoders."""
    return body[:-1] + b',"crc32":"%08x"}\n' % zlib.crc32(body)


def mutated_ledgers() -> list[bytes]:
    """One refused (or accepted) line each, among lines whose links go wrong in every way: an
    actual of another label, a second close, an actual of nothing, a void, a torn tail."""
    auth = entries.new_entry("authorize", "lab02-a", estimated=Decimal("1.00"), lab="02")
    base = json.loads(line_format.encode(auth))
    del base["crc32"]
    actual = {**base, "id": "b" * 32, "kind": "actual", "op_id": auth.id, "actual": "0.50"}
    actual = {k: actual[k] for k in [*[*base][:5], "op_id", "estimated", "actual", "currency"]}
    changes: list[dict[str, object]] = [
        {}, {"estimated": "0.001"}, {"estimated": "-1.00"}, {"estimated": 2.5},
        {"estimated": None}, {"lab": 3}, {"id": ""}, {"ts": "yesterday"},
        {"ts": "2026-11-28T20:00:00"}, {"currency": "EUR"}, {"kind": "refund"},
        {"extra": 1}, {"estimated": "$1.00"}, {"op_label": ""},
    ]  # fmt: skip
    ledgers = []
    for i, change in enumerate(changes):
        first, second = (
            line_format.encode(auth),
            line_format.seal({**base, "id": f"{i:032x}", **change}),
        )
        crc = f"{zlib.crc32(second[:-1]):08x}"
        bad = {"offset": len(first), "length": len(second) - 1, "crc32": crc}
        void = {**base, "kind": "void", "id": "e", "voids": bad, "reason": "test"}
        del void["lab"], void["estimated"]
        lines = [first, second, line_format.seal({**actual, "id": "d", "op_label": "other"})]
        lines += [
            line_format.seal(actual),
            line_format.seal(actual),
            line_format.seal({**actual, "id": "c"}),
        ]
        lines += [line_format.seal({**actual, "id": "f", "op_id": None}), line_format.seal(void)]
        ledgers.append(b"".join(lines) + b'{"torn')
    return ledgers


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_both_decoders_agree_on_the_invalid_ledger_corpus(path: Path) -> None:
    assert assert_agree(path.read_bytes()).problems  # each file holds a bad line


@pytest.mark.parametrize("data", mutated_ledgers(), ids=lambda d: d.split(b"\n")[1][-40:-20])
def test_both_decoders_agree_on_mutated_ledgers(data: bytes) -> None:
    snapshot = assert_agree(data)
    reasons = [p.reason for p in snapshot.problems]
    assert any("of another label" in r for r in reasons)
    assert any("already closed on line 4" in r for r in reasons)
    assert snapshot.problems[-1].torn


# Values a field may be given: right, wrong in type, wrong in content.
VALUES = st.one_of(
    st.none(),
    st.sampled_from(["1.00", "0.01", "0.001", "-1.00", "$1.00", "1e3", "", "USD", "02"]),
    st.sampled_from(["2026-11-28T20:00:00+00:00", "2026-11-28T20:00:00", "2026-11-28T20:00Z"]),
    st.text(max_size=6),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=2),
    st.fixed_dictionaries({"offset": st.integers(0, 400), "length": st.integers(0, 300)}),
)
EDITS = [b" ", b"\\", b'"', b",", b'"id":"x",', b"\\u00e9", b"\xff", b"{", b"1", b"\t"]
KEYS = st.sampled_from([
    "id", "ts", "kind", "op_label", "lab", "op_id", "estimated", "actual", "currency", "voids",
    "reason", "crc32", "extra",
])  # fmt: skip


@st.composite
def ledgers(draw: st.DrawFn) -> bytes:
    """Linked authorize/actual pairs, some fields changed, removed or added, some bytes edited,
    every line resealed so that its CRC holds (the decoders then see what it says)."""
    lines, opened = [], []
    for i in range(draw(st.integers(1, 8))):
        label, lab = draw(st.sampled_from(["a", "b"])), draw(st.sampled_from([None, "02", ""]))
        if opened and draw(st.booleans()):
            op_id, label = draw(st.sampled_from(opened))
            spent = Decimal(draw(st.sampled_from(["0.50", "2.00"])))
            entry = entries.new_entry(
                "actual", label, op_id=op_id, lab=lab, estimated=Decimal("1.00"), actual=spent
            )
        else:
            entry = entries.new_entry("authorize", label, estimated=Decimal("1.00"), lab=lab)
            opened.append((entry.id, label))
        fields = json.loads(line_format.encode(entry))
        del fields["crc32"]
        fields["id"] = draw(st.sampled_from([fields["id"], f"id{i}", "id0"]))
        for key, value in draw(st.dictionaries(KEYS, VALUES, max_size=2)).items():
            fields[key] = value
        for key in draw(st.lists(KEYS, max_size=1)):
            fields.pop(key, None)
        body = json.dumps(fields, separators=(",", ":")).encode()
        if draw(st.booleans()):  # a byte edit: whitespace, escapes, duplicate keys, bad JSON
            at = draw(st.integers(0, len(body) - 1))
            cut = draw(st.integers(0, 3))
            edit = draw(st.sampled_from(EDITS))
            body = body[:at] + edit + body[at + cut :]
        lines.append(resealed(body) if body.endswith(b"}") else body + b"\n")
    return b"".join(lines) + draw(st.sampled_from([b"", b'{"torn']))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_both_decoders_agree_on_any_resealed_ledger(data: bytes) -> None:
    assert_agree(data)


def test_the_typed_decoder_reads_every_sound_line_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the stdlib decoder out of order, a sound ledger of authorize/actual lines still
    reads the same: msgspec really decodes them, the stdlib path only takes what it cannot."""
    auth = entries.new_entry("authorize", "a", estimated=Decimal("1.00"), lab="02")
    actual = entries.new_entry(
        "actual", "a", estimated=Decimal("1.00"), actual=Decimal("0.25"), op_id=auth.id, lab="02"
    )
    other = entries.new_entry("authorize", "b", estimated=Decimal("2.00"))
    data = b"".join(line_format.encode(e) for e in (auth, actual, other))
    expected = read(data, typed=False, keep_entries=True)

    def out_of_order(self: parser.Parser, raw: bytes, number: int) -> None:
        raise AssertionError("the stdlib decoder was asked")

    monkeypatch.setattr(parser.Parser, "_take", out_of_order)
    assert read(data, typed=True, keep_entries=True) == expected
    assert expected.totals.spent == Decimal("2.25")


LOADED = """
import sys
from pathlib import Path
from minitrain.ledger import parser
from minitrain.ledger.jsonl import JsonlLedger
parser.TYPED_READ = int(sys.argv[2])
snapshot = JsonlLedger(Path(sys.argv[1])).read()
print(snapshot.totals.spent, snapshot.lines, "msgspec" in sys.modules)
"""


@pytest.mark.usefixtures("file_mode")
@pytest.mark.parametrize(("threshold", "imported"), [(None, False), (0, True)])
def test_msgspec_is_imported_only_for_a_long_read(
    tmp_path: Path, threshold: int | None, imported: bool
) -> None:
    """A small ledger (``budget status``'s start-up) never pays msgspec's import; a read of at
    least ``TYPED_READ`` bytes does, and gives the same totals."""
    ledger = tmp_path / "spend.jsonl"
    auth = entries.new_entry("authorize", "a", estimated=Decimal("1.50"))
    ledger.write_bytes(line_format.encode(auth))
    limit = parser.TYPED_READ if threshold is None else threshold
    assert ledger.stat().st_size < parser.TYPED_READ
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(ledger), str(limit)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.split() == ["1.50", "1", str(imported)]
    assert jsonl.JsonlLedger(ledger).read().totals.spent == Decimal("1.50")


@pytest.mark.usefixtures("file_mode")
def test_a_stale_checkpoint_is_rebuilt_by_the_typed_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``git pull`` or ``cp`` (a new inode) the prefix is parsed again before the lock is
    taken: that long feed is the one msgspec decodes; the few lines caught up under the lock are
    not."""
    monkeypatch.setattr(checkpoint, "EVERY", 1)  # small ledgers here: a checkpoint at once
    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, ledger)
    for label in "abc":
        guard.authorize(label, "1.00")
    guard.record_actual("a", "0.40")
    assert ledger.with_name("spend.jsonl.checkpoint").exists()
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(ledger.read_bytes())
    copy.replace(ledger)  # a new inode: the checkpoint is stale
    typed: list[bool] = []
    real = _typed.taker

    def taker(*args: Callable[..., None]) -> Callable[[bytes, int], None]:
        typed.append(True)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_typed, "taker", taker)
    monkeypatch.setattr(reader, "UNLOCKED_READ", 1)
    monkeypatch.setattr(parser, "TYPED_READ", ledger.stat().st_size)
    guard = BudgetGuard(5, ledger)
    guard.authorize("d", "0.10")
    assert typed == [True]
    assert guard.total_spent == Decimal("2.50")
