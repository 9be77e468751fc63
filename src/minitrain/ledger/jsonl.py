"""Where the spend ledger lives: the append-only JSONL file (and an in-memory twin for test mode).

This module knows bytes, locks and files; ``entries`` knows lines; ``budget_guard`` knows what
they mean for the budget. The rules it keeps (measured, see ``shared/LEDGER-NOTES.md``):

* One exclusive ``flock`` on a separate ``<ledger>.lock`` file around read -> decide -> append
  (readers take it shared). Not the ledger itself: ``git pull`` replaces the ledger's inode, and
  a lock on the old inode excludes nobody. Not ``lockf``: closing any descriptor of the file
  drops every POSIX lock of the process. The lock is named from the *resolved* path: two names
  of one file (a symlink, ``..``) must take one lock, or both sides overspend.
* The ledger must be a regular file, checked without blocking (``stat``, then ``O_NONBLOCK`` and
  ``fstat`` on what was opened): a FIFO would hang every reader, ``/dev/null`` swallows lines.
  Every OS error is a :class:`LedgerError` naming the file and the cause.
* Each line goes out in one ``os.write`` of the whole line, then ``fsync`` (a transaction's
  right after its unlock, before it returns: see ``_sync_appended``); the directory is fsynced
  when the file is created. A buffered ``json.dump`` tore the last line in 199/200 kills.
* Nothing is ever truncated or rewritten. A torn last line (a crash mid-write) is voided by
  *appending* a newline and a ``void`` line naming its byte range; only a lock holder may do it.
* Reading is incremental: within a process only appended bytes are parsed; across processes a
  derived checkpoint (``checkpoint``) stands in for the lines it covers while it can be trusted.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat as stat_module
import time
from collections.abc import Iterator

from minitrain.errors import InputError, LedgerError
from minitrain.ledger import checkpoint
from minitrain.ledger.entries import (
    Entry,
    FileSpan,
    Parser,
    Problem,
    Snapshot,
    encode,
    parse,
    void_of,
)

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:  # the protocol's home imports this module (for open_ledger), not back
    from contextlib import AbstractContextManager
    from os import PathLike

    from minitrain.ledger import Transaction


# A fresh process parses this much or more before taking the lock (less: ~10 ms under it).
UNLOCKED_READ = 1 << 20


class JsonlLedger:
    """The default: ``spend.jsonl``, appended under a lock, never edited.

    Paths are ``os.path`` strings, not ``pathlib``: every command opens a ledger, and importing
    ``pathlib`` (with ``urllib.parse`` and ``ipaddress``) is start-up time."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.location = self.path
        resolved = os.path.realpath(self.path)  # one file, one lock, whatever its name
        self.lock_path = resolved + ".lock"
        self.checkpoint_path = resolved + ".checkpoint"
        self._state: Parser | None = None  # totals of a clean prefix, continued on next read
        self._identity = (0, 0)
        self._tail = b""
        self._saved = 0  # where the checkpoint on disk ends, as far as this object knows
        self._save_seen: tuple[int, int] | None = None  # which save that was (saved_by)
        self._due = False  # a checkpoint of the state read is to be saved, after unlocking
        self._unsynced: list[tuple[int, bool]] = []  # appended, fsync after unlocking
        self._opened: list[int] = []  # a transaction's read descriptor, for its append
        self._anchor: tuple[int, ...] | None = None  # see checkpoint.anchor

    def read(self, *, full: bool = False) -> Snapshot:
        """What the ledger holds, read under a shared lock so a line being appended is not torn."""
        if not _is_ledger_file(self.path):
            return parse(b"", location=self.location)
        if not full:
            self._prepare()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only copy (someone else's ledger): nobody writes it here
            return self._read(full=full)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._read(full=full)
        finally:
            os.close(fd)
            self._save_checkpoint()

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
        self._save_checkpoint()

    def repair(self, *, line: int | None = None, reason: str) -> tuple[Problem, bool]:
        """Void one bad line by appending; by default the torn last line.

        Returns the line and whether it was kept instead (complete but for its newline).
        Only a torn tail is voided without naming it: a bad line followed by good ones is not a
        crash, and a person must say which line and why (``line`` and ``reason``).
        """
        fd = self._lock(fcntl.LOCK_EX)
        try:
            snapshot = self._read(full=True)
            target = self._repair_target(snapshot, line)
            if target.torn and not parse(read_bytes(self.path) + b"\n", location="").problems:
                # Complete but for its newline: keeping it only adds the reservation or the
                # actual it already says; voiding it could lose a real actual.
                self._write(b"\n")
                return target, True
            self._write((b"\n" if target.torn else b"") + encode(void_of(target, reason)))
            return target, False
        finally:
            os.close(fd)

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

    def _read(self, *, full: bool, appending: bool = False) -> Snapshot:
        """``appending``: a writer's read, by a descriptor its append then writes through (an
        open, an fstat and a close fewer under the lock); closed after the unlock either way."""
        checked = time.time_ns()  # before the stat: see checkpoint.anchor
        flags = os.O_RDWR | os.O_APPEND if appending else os.O_RDONLY
        try:
            fd, stat = open_ledger_file(self.path, flags, "append to" if appending else "read")
        except FileNotFoundError:
            self._state = None
            return parse(b"", location=self.location)
        if appending:
            self._opened.append(fd)
        try:
            if full:
                state = Parser(self.location)
                state.feed(FileSpan(fd, 0, stat.st_size))
                return state.snapshot()
            return self._read_totals(fd, stat, checked)
        finally:
            if not appending:
                os.close(fd)

    def _prepare(self) -> None:
        """Before the lock: start from the checkpoint, or parse every complete line there is.

        The lines of an append-only file do not change once written, so the slow part of a
        fresh read needs no lock; under the lock only the lines appended meanwhile are read
        (``_read_totals``), and other writers never wait for a rebuild. Anything odd here
        (a torn line, an error) is left for the locked read to find and say.
        """
        if self._state is not None:
            return
        try:
            checked = time.time_ns()  # before the stat: see checkpoint.anchor
            fd, stat = open_ledger_file(self.path, os.O_RDONLY, "read")
            try:
                state = self._from_checkpoint(fd, stat, checked)
                if state is None:
                    state, self._anchor = self._fresh_parser(), checkpoint.anchor(stat, checked)
                end = _complete_lines(fd, stat.st_size)
                if end - state.size >= UNLOCKED_READ:
                    state.feed(FileSpan(fd, state.size, end))
                if state.size and not state.problems:
                    self._keep(fd, state, (stat.st_dev, stat.st_ino))
            finally:
                os.close(fd)
        except (OSError, LedgerError):
            return  # not ``contextlib.suppress``: importing it is start-up time

    def _from_checkpoint(self, fd: int, stat: os.stat_result, checked: int) -> Parser | None:
        state, resave, since = checkpoint.load(
            self.checkpoint_path, fd=fd, stat=stat, checked=checked, location=self.location
        )
        self._anchor = checkpoint.anchor(stat, since)
        self._saved = 0 if state is None else state.size
        self._save_seen = checkpoint.saved_by(self.checkpoint_path)
        if state is not None and resave:
            self._saved = -checkpoint.EVERY  # save it again once this read is done
        return state

    def _keep(self, fd: int, state: Parser, identity: tuple[int, int]) -> None:
        keep = min(state.size, checkpoint.TAIL)
        self._state, self._identity = state, identity
        self._tail = os.pread(fd, keep, state.size - keep)

    def _read_totals(self, fd: int, stat: os.stat_result, checked: int) -> Snapshot:
        """Continue from this process's last clean read, else from the checkpoint, else from 0."""
        identity = (stat.st_dev, stat.st_ino)
        state = self._state
        if state is not None and identity == self._identity and stat.st_size >= state.size:
            # The last bytes this process read must still be as they were (an edit in place
            # near the end shows); read with them, in one call, the lines appended since.
            start, near = state.size - len(self._tail), stat.st_size - state.size < UNLOCKED_READ
            seen = os.pread(fd, (stat.st_size if near else state.size) - start, start)
            if seen.startswith(self._tail):
                if self._anchor is not None and self._anchor[:4] != checkpoint.anchor(stat, 0)[:4]:
                    self._anchor = None  # bytes read before this stat: times vouch for none
                if near:
                    return self._fed(state, seen[len(self._tail) :], seen)
                return self._fed_from(fd, state, stat)
        state = self._from_checkpoint(fd, stat, checked)
        if state is None:
            state, self._anchor = self._fresh_parser(), checkpoint.anchor(stat, checked)
        return self._fed_from(fd, state, stat)

    def _fed_from(self, fd: int, state: Parser, stat: os.stat_result) -> Snapshot:
        """``state`` continued with the file's bytes from where it ends, block by block."""
        state.feed(FileSpan(fd, state.size, stat.st_size))
        if state.problems:
            self._state = None
        else:
            self._keep(fd, state, (stat.st_dev, stat.st_ino))
            self._checkpoint_due(state)
        return state.snapshot()

    def _fed(self, state: Parser, data: bytes, seen: bytes) -> Snapshot:
        """``state`` continued with ``data``, the bytes that follow it; ``seen`` ends with them
        and holds at least the last TAIL bytes read, which become the tail kept."""
        state.feed(data)
        if state.problems:  # never continued from: the next read starts over and says why
            self._state = None
        else:
            self._tail = seen[-checkpoint.TAIL :]
            self._checkpoint_due(state)
        return state.snapshot()

    def _folded(self, line: bytes) -> Snapshot:
        """The totals after this transaction appended ``line``. The line follows exactly what
        the locked read found (nobody else appends under the lock, and the state ends where
        that read did), so it is folded from memory rather than read back (six system calls and
        a parse fewer); that holds after the unlock too, as long as this process has not read
        since. With no state to fold into, the file is read, under the lock only."""
        state = self._state
        if state is None:  # the locked read found no file (or a bad line): read what is there
            return self._read(full=False)
        self._anchor = None  # this write moved the file's times: they vouch for no byte now
        return self._fed(state, line, self._tail + line)

    def _checkpoint_due(self, state: Parser) -> None:
        if state.size - self._saved < checkpoint.EVERY:
            return
        if not self._saved_by_another():
            self._due = True  # made and written after the unlock: see _save_checkpoint
        self._saved = state.size

    def _fresh_parser(self) -> Parser:
        return Parser(self.location, keep_entries=False, digest=checkpoint.new_digest())

    def _saved_by_another(self) -> bool:
        """Whether another process saved the checkpoint since this one last loaded or saved it
        (then this save is skipped: with many writers, one save per EVERY bytes, not one each).
        Not after a re-hash, whose save spares the next reader the hashing."""
        seen = checkpoint.saved_by(self.checkpoint_path)
        if self._saved < 0 or seen is None or seen == self._save_seen:
            return False
        self._save_seen = seen
        return True

    def _save_checkpoint(self) -> None:
        """Once the lock is released: nobody waits while the checkpoint is made (every open
        authorization listed, the hash of every byte) and written. It is this process's own
        state that it describes, which nothing changes until this process reads again; a
        writer's includes the line it appended."""
        due, self._due = self._due, False
        if due and self._state is not None:
            body = checkpoint.body_of(self._state, identity=self._identity, anchored=self._anchor)
            checkpoint.save(self.checkpoint_path, body)
            self._save_seen = checkpoint.saved_by(self.checkpoint_path)

    def _lock(self, how: int) -> int:
        """The lock file's descriptor, locked ``how``; closing it releases the lock."""
        _is_ledger_file(self.path)  # refuse a folder, a FIFO or a device before making a lock
        try:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                if how != fcntl.LOCK_EX:
                    raise
                os.makedirs(_folder_of(self.path), exist_ok=True)  # a first write makes it
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(
                f"{self.lock_path}: cannot create the ledger's lock file: {exc.strerror};"
                " nothing was written (is the folder writable?)"
            ) from None
        try:
            fcntl.flock(fd, how)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _write(self, line: bytes, *, sync_later: bool = False) -> None:
        """Append one whole line; fsync it now, or (a transaction's append) once the lock is
        released, before the caller hears of success (see :meth:`_sync_appended`)."""
        if self._opened:  # the transaction's read opened it: the file is there
            fd, created = self._opened.pop(), False
        else:
            created = not _is_ledger_file(self.path)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            fd, _ = open_ledger_file(self.path, flags, "append to")
        try:
            written = _write_all_or_say(self.path, fd, line)
            if written != len(line):
                raise LedgerError(_short_write(self.path, written, line))
        except BaseException:
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
        try:
            for fd, created in pending:
                _fsync(self.path, fd)
                if created:
                    _fsync_dir(self.path)
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
        ledger._prepare()
        try:
            self._lock = ledger._lock(fcntl.LOCK_EX)
            self._txn = _FileTransaction(ledger, ledger._read(full=False, appending=True))
        except BaseException:
            self.__exit__()
            raise
        return self._txn

    def __exit__(self, *exc_info: object) -> None:
        txn, self._txn = self._txn, None
        try:
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

    def append(self, entry: Entry) -> Entry:
        snapshot = self.snapshot
        snapshot.require_clean()  # appending after a torn tail would glue onto it
        line = encode(entry)
        ledger = self._ledger
        ledger._write(line, sync_later=True)
        self._line = line
        if ledger._state is None:  # the file was made (or not read whole): read it back now
            self._fold()
        return entry.replace(line=snapshot.lines + 1)


class MemoryLedger:
    """``BUDGET_GUARD_TEST_MODE=1``: starts from the file (if any), then writes nothing to disk."""

    def __init__(self, path: str | PathLike[str]) -> None:
        import contextlib
        import threading  # test mode only: not start-up time for every command

        self.location = f"{os.fspath(path)} (test mode: in memory)"
        self._state = Parser(self.location)
        with contextlib.suppress(FileNotFoundError):
            self._state.feed(read_bytes(os.fspath(path)))
        self._lock = threading.Lock()

    def read(self, *, full: bool = False) -> Snapshot:
        return _in_memory(self._state.snapshot())

    def transaction(self) -> AbstractContextManager[Transaction]:
        import contextlib  # as JsonlLedger.transaction

        return contextlib.contextmanager(self._transaction)()

    def _transaction(self) -> Iterator[Transaction]:
        with self._lock:
            yield _MemoryTransaction(self._state)


class _MemoryTransaction:
    def __init__(self, state: Parser) -> None:
        self._state = state
        self.snapshot = _in_memory(state.snapshot())

    def full(self) -> Snapshot:
        return _in_memory(self._state.snapshot())

    def append(self, entry: Entry) -> Entry:
        self.snapshot.require_clean()
        written = self._state.append(entry)
        self.snapshot = _in_memory(self._state.snapshot())
        return written


def _in_memory(snapshot: Snapshot) -> Snapshot:
    return snapshot.replace(repair_hint=TEST_MODE_REPAIR)


TEST_MODE_REPAIR = (
    "test mode (BUDGET_GUARD_TEST_MODE=1) never writes the file, so it cannot repair it:"
    " unset BUDGET_GUARD_TEST_MODE, then run `budget repair`"
)


def _is_ledger_file(path: str) -> bool:
    """Whether the ledger exists; a LedgerError if it is there but not a regular file.
    ``stat`` never blocks, even on a FIFO."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise LedgerError(f"{path}: cannot use the ledger: {exc.strerror}") from None
    _require_regular(path, found.st_mode)
    return True


def _require_regular(path: str, mode: int) -> None:
    if stat_module.S_ISREG(mode):
        return
    kinds = {
        stat_module.S_ISDIR: "a folder",
        stat_module.S_ISFIFO: "a FIFO (named pipe)",
        stat_module.S_ISCHR: "a character device",
        stat_module.S_ISBLK: "a block device",
        stat_module.S_ISSOCK: "a socket",
    }
    kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
    raise LedgerError(
        f"{path}: the ledger is {kind}, not a regular file; point --ledger (or the manifest's"
        " spend_log_path) at a .jsonl file"
    )


def open_ledger_file(path: str, flags: int, verb: str) -> tuple[int, os.stat_result]:
    """Open the ledger without ever blocking, and only if it is a regular file: its descriptor
    and the ``fstat`` that said so. A missing file (when not creating) raises
    FileNotFoundError; any other problem is a LedgerError."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        if flags & os.O_CREAT:
            raise LedgerError(f"{path}: cannot create the ledger: its folder is missing") from None
        raise
    except OSError as exc:
        _is_ledger_file(path)  # a FIFO without a reader says ENXIO; say what it is instead
        raise LedgerError(f"{path}: cannot {verb} the ledger: {exc.strerror}") from None
    try:
        found = os.fstat(fd)
        _require_regular(path, found.st_mode)
    except (LedgerError, OSError):
        os.close(fd)
        raise
    return fd, found


def _complete_lines(fd: int, size: int) -> int:
    """Where the last complete line ends: a line being appended right now is left for later."""
    end = size
    while end > 0:
        start = max(0, end - checkpoint.TAIL)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found != -1:
            return start + found + 1
        end = start
    return 0


def read_bytes(path: str) -> bytes:
    """The whole ledger file (FileNotFoundError if there is none)."""
    fd, stat = open_ledger_file(path, os.O_RDONLY, "read")
    try:
        return os.pread(fd, stat.st_size, 0)
    finally:
        os.close(fd)


def _write_all_or_say(path: str, fd: int, line: bytes) -> int:
    try:
        return os.write(fd, line)
    except OSError as exc:
        raise LedgerError(
            f"{path}: cannot append to the ledger: {exc.strerror}{_hint(exc)}; nothing was written"
        ) from None


def _short_write(path: str, written: int, line: bytes) -> str:
    """What is true after a short write: a line lacking only its newline stands (repair keeps it,
    so what it says counts); anything shorter is torn and counts for nothing."""
    said = (
        f"{path}: only {written} of {len(line)} bytes were written (disk full or file-size limit?)"
    )
    if written == len(line) - 1:
        return (
            f"{said}; the line is complete but for its newline, so it stands and counts:"
            " `budget repair` keeps it (appends the newline). Do not write it again"
        )
    return (
        f"{said}; the line is torn and counts for nothing; free space, then run `budget repair`"
        " (it voids the torn line by appending)"
    )


def _fsync(path: str, fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        raise LedgerError(
            f"{path}: the line was written but could not be flushed to disk: {exc.strerror};"
            " check the disk, then `budget verify`"
        ) from None


def _hint(exc: OSError) -> str:
    return {
        errno.ENOSPC: " (free space, then retry)",
        errno.EFBIG: " (the file-size limit, `ulimit -f`, is reached)",
        errno.EDQUOT: " (the disk quota is reached)",
    }.get(exc.errno or 0, "")


def _folder_of(path: str) -> str:
    """The folder holding ``path`` (``.`` for a bare file name, as ``Path.parent`` says)."""
    return os.path.dirname(path) or "."


def _fsync_dir(ledger: str) -> None:
    try:
        fd = os.open(_folder_of(ledger), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LedgerError(
            f"{ledger}: the ledger was created but its folder could not be synced:"
            f" {exc.strerror}; check the disk, then `budget verify`"
        ) from None
