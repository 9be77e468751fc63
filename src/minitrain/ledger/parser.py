"""Reading the ledger's lines: a :class:`Parser` folds each line into the totals (what the
guard decides on) and, when asked, keeps the entries themselves (what ``budget status --all`` and
``budget report`` list). A bad line becomes a ``Problem`` with its line number, never a guess.

The reader is tuned (benchmarks/codec.py measures this very parser): one shared JSON
scanner (``line_format``), the CRC checked by slicing the sealed suffix, each distinct amount
text parsed once and summed as whole cents, closed operations kept as a line number (not a
record), the file taken in blocks.
"""

from __future__ import annotations

from _weakref import ref as weak  # weakref.ref itself: the weakref module costs start-up time
from collections.abc import Callable
from decimal import Decimal

from minitrain.ledger.entries import CURRENCY, Entry, LazyDatetime, Problem
from minitrain.ledger.line_format import (
    SEALED,
    SUFFIX,
    BadLine,
    Unfinished,
    cents,
    crc_failure,
    decode,
    describe_torn,
    loss_fields,
    timestamp,
)
from minitrain.ledger.snapshot import Snapshot
from minitrain.ledger.totals import Totals

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from minitrain.ledger.entries import Kind

    Taker = Callable[[bytes, int], None]
    from minitrain.ledger.file import FileSpan
else:
    datetime = LazyDatetime(globals())

_TORN = "torn last line: no newline at its end (a crash mid-write?)"

# A feed of this many bytes or more is decoded by msgspec first (``_typed``). It saves ~1-2 µs a
# line (~5-9 ms a MB) but costs ~20-50 ms to import (msgspec pulls typing_extensions, inspect,
# uuid), so it pays from ~3 MB on (`benchmarks/codec.py` prints the break-even): a cold read or
# a stale rebuild of a real ledger takes it; a small ledger, and `budget status`'s start-up,
# never import it.
TYPED_READ = 4 << 20


class Parser:
    """Parse state that can continue where it stopped, so a growing file is read once.

    ``keep_entries`` keeps every entry (for listings); without it only the totals grow, in whole
    cents. A parser may start from a checkpoint (:meth:`resume`); ids and closed operations are
    then known only from there on.
    """

    __slots__ = (
        "charged",
        "digest",
        "entries",
        "ids",
        "keep_entries",
        "lent",
        "lines",
        "location",
        "open",
        "problems",
        "reserved",
        "size",
        "voids",
    )

    def __init__(self, location: str, keep_entries: bool = True, digest: Any = None) -> None:
        self.location = location
        self.keep_entries = keep_entries
        self.size = 0  # bytes consumed
        self.lines = 0
        self.reserved = 0  # cents
        self.charged: dict[str, int] = {}  # lab ("" = none) -> cents
        # authorization id -> [ts, label, lab, cents, line, its Entry once asked for]
        self.open: dict[str, list[Any]] = {}
        # every id seen -> 0, or for a closed authorization the line that closed it
        self.ids: dict[str, int] = {}
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self.voids: list[tuple[int, object]] = []
        self.digest = digest  # a running hash of every byte fed (for the checkpoint), if kept
        self.lent: weak[_Lent] | None = None  # ``open`` as the Totals made since it changed see it

    @classmethod
    def resume(
        cls,
        location: str,
        *,
        size: int,
        lines: int,
        charged: dict[str, int],
        open_ops: list[tuple[str, str, str, str | None, int, int]],
        digest: Any,
    ) -> Parser:
        """A totals-only parser positioned where a checkpoint ends."""
        state = cls(location, keep_entries=False, digest=digest)
        state.size, state.lines, state.charged = size, lines, charged
        for op_id, ts, label, lab, amount, line in open_ops:
            state.open[op_id] = [ts, label, lab, amount, line, None]
            state.reserved += amount
        return state

    @property
    def totals(self) -> Totals:
        """The sums now; the open authorizations as entries only when asked for (a writer's
        check needs the sums alone, and it holds the lock meanwhile). They are this parser's
        own table, not a copy, until it changes (see :meth:`_unshare`)."""
        lent = None if self.lent is None else self.lent()
        if lent is None:
            lent = _Lent(self.open)
            self.lent = weak(lent)
        return Totals(
            _dollars(self.reserved),
            {lab: _dollars(c) for lab, c in self.charged.items()},
            lent.entries,
        )

    def _unshare(self) -> None:
        """Before the open authorizations change: Totals made earlier and still held get a copy
        of the table as it was. Usually nobody holds them any more (a writer's check is done
        with its Totals before it appends), and then nothing is copied: with thousands of
        authorizations open, a copy per read and per append was a tenth of a writer's turn."""
        lent = None if self.lent is None else self.lent()
        if lent is not None:
            lent.rows = dict(lent.rows)
        self.lent = None

    def feed(self, data: bytes | FileSpan) -> None:
        """Take the bytes that follow the ones already fed (the file from ``self.size`` on)."""
        self._unshare()
        take = self._typed_take() if len(data) >= TYPED_READ else self._take
        tail = Unfinished()  # a line's bytes across blocks: each is added once (linear time)
        for block in (data,) if type(data) is bytes else data.blocks():  # type: ignore[union-attr]
            if self.digest is not None:
                self.digest.update(block)
            first = block.find(b"\n")
            if first == -1:
                tail.add(block)
                continue
            text = block
            if tail.length:
                tail.add(block[:first])
                self._take_unfinished(tail, take, torn=False)
                tail, text = Unfinished(), block[first + 1 :]
            *whole, rest = text.split(b"\n")
            if whole:
                self._take_lines(whole, take)
            tail.add(rest)
        if tail.length:  # a last line without its newline: a crash mid-write
            self._take_unfinished(tail, take, torn=True)
        self._apply_voids()

    def _take_unfinished(self, tail: Unfinished, take: Taker, *, torn: bool) -> None:
        """A line fed in pieces; one too long to keep was only measured (see Unfinished)."""
        raw = tail.joined()
        if raw is not None and not torn:
            self._take_lines([raw], take)
            return
        self.lines += 1
        if raw is not None:
            self._problem(raw, _TORN, torn=True)
        else:
            reason = f"a line of {tail.length} bytes: longer than any this tool writes"
            looks_like = describe_torn(tail.head) if torn else ""
            where = (self.lines, self.size, tail.length, _TORN if torn else reason, torn)
            self.problems.append(Problem(*where, f"{tail.crc:08x}", looks_like))
        self.size += tail.length + (0 if torn else 1)

    def append(self, entry: Entry) -> Entry:
        """Fold an entry the caller checked itself (test mode's in-memory ledger)."""
        self._unshare()
        self.lines += 1
        written = entry.replace(line=self.lines)
        estimate, spent = (
            None if amount is None else int(amount.scaleb(2))
            for amount in (entry.estimated, entry.actual)
        )
        self._apply(
            entry.kind, entry.id, entry.ts, entry.op_label, entry.lab, entry.op_id,
            estimate, spent, self.lines, written,
        )  # fmt: skip
        return written

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.totals,
            tuple(self.problems),
            self.location,
            self.lines,
            tuple(self.entries) if self.keep_entries else None,
        )

    def _typed_take(self) -> Callable[[bytes, int], None]:
        """:meth:`_take` with msgspec's typed decoder in front, when it is installed."""
        try:
            from minitrain.ledger import _typed  # msgspec: its import costs, see TYPED_READ
        except ImportError:
            return self._take
        return _typed.taker(self._check, self._take)

    def _take_lines(self, lines: list[bytes], take: Callable[[bytes, int], None]) -> None:
        from zlib import crc32

        suffix, sealed = SUFFIX, SEALED
        number, offset = self.lines, self.size
        for raw in lines:
            number += 1
            try:
                if raw[-sealed:] != suffix % crc32(b"}", crc32(raw[:-sealed])):
                    crc_failure(raw)
                take(raw, number)
            except BadLine as exc:
                self.lines, self.size = number, offset
                self._problem(raw, str(exc), torn=False)
            offset += len(raw) + 1
        self.lines, self.size = number, offset

    def _problem(self, raw: bytes, reason: str, *, torn: bool) -> None:
        from zlib import crc32

        crc = f"{crc32(raw):08x}"
        looks_like = describe_torn(raw) if torn else ""
        where = (self.lines, self.size, len(raw))
        self.problems.append(Problem(*where, reason, torn, crc, looks_like))

    def _take(self, raw: bytes, number: int) -> None:
        """One line through the standard library's decoder (it words every failure)."""
        fields = decode(raw)
        get = fields.get  # the keys were checked: a key this kind lacks gives None
        self._check(
            fields["kind"], get("id"), get("ts"), get("currency"), get("op_label"), get("lab"),
            get("op_id"), get("estimated"), get("actual"), number, get("voids"), get("reason"),
            get("op_ids"),
        )  # fmt: skip

    def _check(  # noqa: PLR0917 - one decoded line, field by field
        self, kind: Kind, entry_id: Any, ts: Any, currency: Any, label: Any, lab: Any,
        op_id: Any, estimated: Any, actual: Any, number: int, voids: Any = None,
        reason: Any = None, op_ids: Any = None,
    ) -> None:  # fmt: skip
        """Every check of a line's fields, whichever decoder read it; then fold it in.

        The hot path of a cold read: checks inline, no record made unless entries are kept.
        """
        if type(entry_id) is not str or not entry_id:
            raise BadLine("id must be a non-empty string")
        if entry_id in self.ids:
            raise BadLine(f"duplicate id {entry_id}")
        if currency != CURRENCY:
            raise BadLine(f"currency {currency!r}; this ledger is in {CURRENCY}")
        ts = timestamp(ts)
        if kind == "void":
            if type(voids) is not dict:
                raise BadLine("void line without an {offset, length, crc32} object")
            self.ids[entry_id] = 0
            self.voids.append((number, voids))
            return
        if lab is not None and type(lab) is not str:
            raise BadLine("lab must be a string or null")
        if op_id is not None and type(op_id) is not str:
            raise BadLine("op_id must be a string or null")
        if type(label) is not str or not label:
            raise BadLine("op_label must be a non-empty string")
        estimate = None if estimated is None else cents(estimated, "estimated")
        spent = None if kind == "authorize" else cents(actual, "actual")
        if kind == "loss":
            op_ids = loss_fields(reason, op_ids)
        entry = None
        if self.keep_entries:
            entry = Entry(
                entry_id, datetime.fromisoformat(ts), kind, label, _maybe_dollars(estimate),
                actual=_maybe_dollars(spent), op_id=op_id, lab=lab, line=number,
                reason=reason if kind == "loss" else None, op_ids=op_ids,
            )  # fmt: skip
        self._apply(kind, entry_id, ts, label, lab, op_id, estimate, spent, number, entry)

    def _apply(  # noqa: PLR0917 - one checked line, field by field
        self, kind: str, entry_id: str, ts: object, label: str, lab: str | None,
        op_id: str | None, estimate: int | None, spent: int | None, number: int,
        entry: Entry | None,
    ) -> None:  # fmt: skip
        """Link one authorize, actual or loss line, then fold it into the totals (see
        totals.added_by: an authorization reserves its estimate; an actual replaces the
        reservation it closes; a loss, which closes none, counts in full)."""
        charged = self.charged  # _charge inlined: this runs once per line of a cold read
        if kind == "authorize":
            if estimate is None:
                raise BadLine("an authorize line needs an estimated amount")
            self.open[entry_id] = [ts, label, lab, estimate, number, entry]
            self.reserved += estimate
            key = lab or ""
            charged[key] = charged.get(key, 0) + estimate
        elif op_id is None:
            assert spent is not None
            self._charge(lab, spent)
        else:
            assert spent is not None
            opened = self.open.get(op_id)
            if opened is None or opened[1] != label:
                self._close(op_id, label, number)  # says why
            assert opened is not None
            self.ids[op_id] = number
            del self.open[op_id]
            self.reserved -= opened[3]
            key = opened[2] or ""
            charged[key] = charged.get(key, 0) + spent - opened[3]
        self.ids[entry_id] = 0
        if entry is not None:
            self.entries.append(entry)

    def _close(self, op_id: str, label: str, number: int) -> None:
        closed_on = self.ids.get(op_id)
        if closed_on:
            raise BadLine(f"authorization {op_id} already closed on line {closed_on}")
        opened = self.open.get(op_id)
        if opened is None:
            raise BadLine(f"closes authorization {op_id}, which is not open on an earlier line")
        if opened[1] != label:
            raise BadLine(f"closes authorization {op_id} of another label")
        self.ids[op_id] = number

    def _charge(self, lab: str | None, amount: int) -> None:
        key = lab or ""
        self.charged[key] = self.charged.get(key, 0) + amount

    def _apply_voids(self) -> None:
        for line, voids in self.voids:
            assert isinstance(voids, dict)
            names = (voids.get("offset"), voids.get("length"), voids.get("crc32"))
            match = next((p for p in self.problems if (p.offset, p.length, p.crc32) == names), None)
            if match is None:
                self.problems.append(
                    Problem(line, 0, 0, "void line names no bad line (offset, length and crc32)")
                )
            else:
                self.problems.remove(match)
        self.voids.clear()
        self.problems.sort(key=lambda p: p.line)


def parse(data: bytes, *, location: str) -> Snapshot:
    """Every line of a ledger file, checked; bad lines become :class:`Problem` s, never guesses."""
    state = Parser(location)
    state.feed(data)
    return state.snapshot()


class _Lent:
    """The open authorizations a parser's Totals see: its own table while it stays as it was."""

    __slots__ = ("__weakref__", "rows")

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        self.rows = rows

    def entries(self) -> dict[str, Entry]:
        return {op_id: _open_entry(op_id, row) for op_id, row in self.rows.items()}


def _open_entry(op_id: str, row: list[Any]) -> Entry:
    """An open authorization (``Parser.open``'s row) as an entry, made once and kept in it."""
    if row[5] is None:
        ts, label, lab, cents, line, _ = row
        when = datetime.fromisoformat(ts) if type(ts) is str else ts
        row[5] = Entry(op_id, when, "authorize", label, _dollars(cents), lab=lab, line=line)
    return row[5]  # type: ignore[no-any-return]


def _dollars(cents: int) -> Decimal:
    """Whole cents as the Decimal ``parse_usd`` gives (two places: 1 -> 0.01)."""
    return Decimal(cents).scaleb(-2)


def _maybe_dollars(cents: int | None) -> Decimal | None:
    return None if cents is None else _dollars(cents)
