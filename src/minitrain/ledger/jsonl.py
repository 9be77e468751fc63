"""Where the spend ledger lives by default: the append-only JSONL file.

This module knows locks and the file's life; ``file`` knows the system calls, ``line_format``
a line's bytes, ``parser`` and ``reader`` read them; ``budget_guard`` knows what they mean for the
budget. The rules it keeps (measured, see ``shared/LEDGER-NOTES.md``):

* One exclusive ``flock`` on a separate ``<ledger>.lock`` file around read -> decide -> append
  (readers take it shared). Not the ledger itself: ``git pull`` replaces the ledger's inode, and
  a lock on the old inode excludes nobody. Not ``lockf``: closing any descriptor of the file
  drops every POSIX lock of the process. The lock is named from the *resolved* path, and the
  ledger's own inode is flocked after it (see ``lock``): every name of one file (a symlink,
  ``..``, a hard link, a bind mount, ``/proc/self/fd/N``) takes one lock, or both sides
  overspend.
* Each line goes out in one ``os.write`` of the whole line, then ``fsync`` (a transaction's
  right after its unlock, before it returns: see ``_sync_appended``).
* Nothing is ever truncated or rewritten. A torn last line (a crash mid-write) is voided by
  *appending* a newline and a ``void`` line naming its byte range; only a lock holder may do it.
* Reading is incremental: within a process only appended bytes are parsed; across processes a
  derived checkpoint (``checkpoint``) stands in for the lines it covers while it can be trusted.
"""

from __future__ import annotations

import fcntl
import os

from minitrain.errors import InputError, LedgerError
from minitrain.ledger import mark
from minitrain.ledger.entries import void_of
from minitrain.ledger.file import (
    FileSpan,
    fsync,
    fsync_dir,
    is_ledger_file,
    open_ledger_file,
    read_bytes,
    write_line,
)
from minitrain.ledger.line_format import encode
from minitrain.ledger.lock import lock_name, open_locked
from minitrain.ledger.parser import Parser, parse
from minitrain.ledger.reader import FileReader

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:  # the protocol's home imports this module (for open_ledger), not back
    from contextlib import AbstractContextManager
    from os import PathLike

    from minitrain.ledger import Transaction
    from minitrain.ledger.entries import Entry, Problem
    from minitrain.ledger.snapshot import Snapshot


class JsonlLedger:
    """The default: ``spend.jsonl``, appended under a lock, never edited.

    Paths are ``os.path`` strings, not ``pathlib``: every command opens a ledger, and importing
    ``pathlib`` (with ``urllib.parse`` and ``ipaddress``) is start-up time."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.location = self.path
        resolved = os.path.realpath(self.path)  # one file, one lock, whatever its name
        self.lock_path = resolved + ".lock"
        self._reader = FileReader(self.path, self.location, resolved + ".checkpoint")
        self._unsynced: list[tuple[int, bool]] = []  # appended, fsync after unlocking
        self._opened: list[int] = []  # a transaction's read descriptor, for its append
        self._held = -1  # that descriptor while it holds the file's own lock (see lock.py)
        self._mark_path = mark.path_for(self.lock_path)
        self._marking: tuple[bytes, Entry] | None = None  # appended: the mark follows it
        self._shrunk: mark.Mark | None = None  # what repair's read found lost

    def read(self, *, full: bool = False) -> Snapshot:
        """What the ledger holds, read under a shared lock so a line being appended is not torn."""
        if not is_ledger_file(self.path):
            self._require_unshrunk(0)
            return parse(b"", location=self.location)
        if not full:
            self._reader.prepare()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only copy (someone else's ledger): nobody writes it here
            return self._read(full=full, lock=fcntl.LOCK_SH)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._read(full=full, lock=fcntl.LOCK_SH)
        finally:
            os.close(fd)
            self._reader.save_checkpoint()

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Hold the lock; yield the totals now and a way to append."""
        return _Turn(self)

    def _after_turn(self, txn: _FileTransaction | None) -> None:
        """Once the lock is released: other writers need not wait for the disk, nor for this
        writer's line to be folded into its own totals."""
        try:
            self._sync_appended()
        finally:
            if txn is not None:
                txn.settle()
        self._save_mark()
        self._reader.save_checkpoint()

    def _save_mark(self) -> None:
        """The high-water mark follows this object's write (see ``mark``), before it returns."""
        marking, self._marking = self._marking, None
        state = self._reader.state
        if marking is None or state is None:
            return
        line, entry = marking
        op = entry.id if entry.kind == "authorize" else entry.op_id
        paths = (self._mark_path, self._reader.checkpoint_path)
        mark.save(*paths, state, last_line=line, last_op=op, last_lab=entry.lab)

    def _require_unshrunk(self, size: int, *, repairing: bool = False) -> None:
        found = mark.shrunk(self._mark_path, self._reader.checkpoint_path, size)
        if repairing:
            self._shrunk = found
        elif found is not None:
            raise mark.refusal(self.location, size, found)

    def repair(
        self, *, line: int | None = None, reason: str
    ) -> tuple[Problem | None, bool, tuple[Entry, ...]]:
        """Void one bad line by appending; by default the torn last line. Then, if the ledger is
        shorter than its mark (see ``mark``), append what it lost as ``loss`` lines.

        Returns the line (None if none was bad), whether it was kept instead (complete but for
        its newline), and the losses recorded. Only a torn tail is voided without naming it: a
        bad line followed by good ones is not a crash, and a person must say which line and why
        (``line`` and ``reason``).
        """
        fd = lock_name(self.path, self.lock_path, fcntl.LOCK_EX)
        try:
            snapshot = self._read(full=True, appending=True, repairing=True)
            target, kept, shrunk = None, False, self._shrunk
            if snapshot.problems or shrunk is None:
                target = self._repair_target(snapshot, line)
                kept = self._void(target, reason)
            if shrunk is None:
                return target, kept, ()
            return target, kept, self._record_loss(shrunk)
        finally:
            self._sync_appended()  # closes the file (and so unlocks it) if nothing was written
            os.close(fd)

    def _record_loss(self, shrunk: mark.Mark) -> tuple[Entry, ...]:
        """Append a loss line per lab for what the mark says is gone, then lower the mark to
        the file as it now is (it counts what was granted again)."""
        try:
            data = read_bytes(self.path)
        except FileNotFoundError:  # all of it lost: the first loss line makes it again
            data = b""
        lost = mark.losses(shrunk, parse(data, location=self.location), len(data))
        lines = [encode(entry) for entry in lost]
        if lines:
            self._write(b"".join(lines))
        state = Parser(self.location, keep_entries=False)
        state.feed(data + b"".join(lines))
        self._reader.state = None  # the next read of this object starts over
        paths = (self._mark_path, self._reader.checkpoint_path)
        last = lines[-1] if lines else b""
        mark.save(*paths, state, last_line=last, last_op=None, last_lab=None, lower=True)
        return tuple(lost)

    def _void(self, target: Problem, reason: str) -> bool:
        """Append what takes a bad line out of the books; True if it was kept instead."""
        if target.torn and not parse(read_bytes(self.path) + b"\n", location="").problems:
            # Complete but for its newline: keeping it only adds the reservation or the
            # actual it already says; voiding it could lose a real actual.
            self._write(b"\n")
            return True
        self._write((b"\n" if target.torn else b"") + encode(void_of(target, reason)))
        return False

    def _repair_target(self, snapshot: Snapshot, line: int | None) -> Problem:
        if not snapshot.problems:
            raise InputError(f"{self.path}: every line is sound; there is nothing to repair")
        if line is None:
            tail = snapshot.problems[-1]
            if not tail.torn:
                raise LedgerError(
                    f"{self.path}:{tail.line}: {tail.reason}; this is not a torn last line,"
                    " so it is not repaired without a person: read it, then run"
                    f" `budget repair --line {tail.line} --reason '...'`"
                )
            return tail
        matches = [p for p in snapshot.problems if p.line == line]
        if not matches:
            raise InputError(f"{self.path}:{line}: that line is not a bad line")
        return matches[0]

    def _read(
        self, *, full: bool, appending: bool = False, lock: int = 0, repairing: bool = False
    ) -> Snapshot:
        """``appending``: a writer's read, by a descriptor its append then writes through (an
        open, an fstat and a close fewer under the lock); closed after the unlock either way.
        It locks the file itself exclusively (see ``lock.open_locked``); else ``lock`` says how."""
        flags = os.O_RDWR | os.O_APPEND if appending else os.O_RDONLY
        how = fcntl.LOCK_EX if appending else lock
        try:
            fd, stat, checked = open_locked(
                self.path, flags, "append to" if appending else "read", how
            )
        except FileNotFoundError:
            self._require_unshrunk(0, repairing=repairing)
            self._reader.state = None
            return parse(b"", location=self.location)
        try:
            self._require_unshrunk(stat.st_size, repairing=repairing)
        except LedgerError:
            os.close(fd)
            raise
        if appending:
            self._opened.append(fd)
            self._held = fd
        try:
            if full:
                state = Parser(self.location)
                state.feed(FileSpan(fd, 0, stat.st_size, self.path))
                return state.snapshot()
            return self._reader.totals(fd, stat, checked)
        finally:
            if not appending:
                os.close(fd)

    def _unlock_file(self) -> None:
        """Release the file's own lock (the descriptor stays open for the fsync)."""
        held, self._held = self._held, -1
        if held != -1:
            fcntl.flock(held, fcntl.LOCK_UN)

    def _folded(self, line: bytes) -> Snapshot:
        """The totals after this transaction appended ``line`` (see ``FileReader.folded``);
        with no state to fold into, the file is read, under the lock only."""
        if self._reader.state is None:  # the locked read found no file (or a bad line)
            return self._read(full=False)
        return self._reader.folded(line)

    def _write(self, line: bytes, *, sync_later: bool = False) -> None:
        """Append one whole line; fsync it now, or (a transaction's append) once the lock is
        released, before the caller hears of success (see :meth:`_sync_appended`)."""
        if self._opened:  # the transaction's read opened it: the file is there
            fd, created = self._opened.pop(), False
        else:
            created = not is_ledger_file(self.path)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            fd, _ = open_ledger_file(self.path, flags, "append to")
        try:
            write_line(self.path, fd, line)
        except BaseException:
            if fd == self._held:
                self._held = -1
            os.close(fd)
            raise
        self._unsynced.append((fd, created))
        if not sync_later:
            self._sync_appended()

    def _sync_appended(self) -> None:
        """Flush what this object appended. After a transaction's unlock: other writers may
        read and count a line not yet on disk, which errs on the safe side (they see more
        spent); this writer returns only once it is, and if it dies first it never returned.
        Any later writer's fsync flushes the whole file, this line included."""
        pending, self._unsynced = self._unsynced, []
        unused, self._opened = self._opened, []  # a transaction's that appended nothing
        self._held = -1  # closing the descriptor releases its lock
        try:
            for fd, created in pending:
                fsync(self.path, fd)
                if created:
                    fsync_dir(self.path)
        finally:
            for fd in [*unused, *(fd for fd, _ in pending)]:
                os.close(fd)


class _Turn:
    """One writer's turn (:meth:`JsonlLedger.transaction`): the exclusive lock while the body
    runs; then, unlocked, the fsync of what it appended, its line folded into the totals, and
    any checkpoint save. A class rather than ``contextlib.contextmanager``, which builds a
    wrapper on every call (and costs its import): a writer takes a turn per authorization."""

    __slots__ = ("_ledger", "_lock", "_txn")

    def __init__(self, ledger: JsonlLedger) -> None:
        self._ledger = ledger
        self._lock = -1
        self._txn: _FileTransaction | None = None

    def __enter__(self) -> Transaction:
        ledger = self._ledger
        ledger._reader.prepare()
        try:
            self._lock = lock_name(ledger.path, ledger.lock_path, fcntl.LOCK_EX)
            self._txn = _FileTransaction(ledger, ledger._read(full=False, appending=True))
        except BaseException:
            self.__exit__()
            raise
        return self._txn

    def __exit__(self, *exc_info: object) -> None:
        txn, self._txn = self._txn, None
        try:
            try:
                self._ledger._unlock_file()  # the file's own lock first: see lock.py
            finally:
                if self._lock != -1:
                    os.close(self._lock)  # closing the descriptor releases the flock
        finally:
            self._ledger._after_turn(txn)


class _FileTransaction:
    """What a writer sees under the lock. The line it appends is folded into the totals after
    the unlock (a parse and a snapshot fewer while the other writers wait), or under the lock
    when ``snapshot`` is asked for first, or when the append made the file (then the totals
    are read back, which only the lock makes safe)."""

    __slots__ = ("_ledger", "_line", "_snapshot")

    def __init__(self, ledger: JsonlLedger, snapshot: Snapshot) -> None:
        self._ledger = ledger
        self._snapshot = snapshot
        self._line = b""  # appended, not yet folded

    @property
    def snapshot(self) -> Snapshot:
        if self._line:
            self._fold()
        return self._snapshot

    def _fold(self) -> None:
        line, self._line = self._line, b""
        del self._snapshot  # before the fold: totals nobody holds are not copied (Parser.totals)
        self._snapshot = self._ledger._folded(line)

    def settle(self) -> None:
        """After the unlock: fold the line appended, if any."""
        if self._line:
            self._fold()

    def full(self) -> Snapshot:
        return self._ledger._read(full=True)

    def holds(self, entry_id: str) -> bool:
        if entry_id in self.snapshot.totals.open_ops:
            return True
        return any(entry.id == entry_id for entry in self.full().entries or ())

    def append(self, entry: Entry) -> Entry:
        snapshot = self.snapshot
        snapshot.require_clean()  # appending after a torn tail would glue onto it
        line = encode(entry)
        ledger = self._ledger
        ledger._write(line, sync_later=True)
        self._line = line
        ledger._marking = (line, entry)
        if ledger._reader.state is None:  # the file was made (or not read whole): read it back now
            self._fold()
        return entry.replace(line=snapshot.lines + 1)
