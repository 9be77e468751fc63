"""What one process knows of the ledger file between its reads: the parse state of a clean
prefix, continued read to read (only appended bytes are parsed), and the derived checkpoint that
stands in for the lines it covers while it can be trusted (``checkpoint``). ``jsonl`` opens the
file, locks it and appends; this reads.
"""

from __future__ import annotations

import os
import time

from minitrain.errors import LedgerError
from minitrain.ledger import checkpoint
from minitrain.ledger.file import FileSpan, open_ledger_file
from minitrain.ledger.parser import Parser

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain.ledger.snapshot import Snapshot

# A fresh process parses this much or more before taking the lock (less: ~10 ms under it).
UNLOCKED_READ = 1 << 20


class FileReader:
    """The totals of the ledger at ``path`` as this process last read them, continued from
    there (and saved as a checkpoint now and then, once no lock is held)."""

    def __init__(self, path: str, location: str, checkpoint_path: str) -> None:
        self.path, self.location, self.checkpoint_path = path, location, checkpoint_path
        self.state: Parser | None = None  # totals of a clean prefix, continued on next read
        self._identity = (0, 0)
        self._tail = b""
        self._saved = 0  # where the checkpoint on disk ends, as far as this object knows
        self._save_seen: tuple[int, int] | None = None  # which save that was (saved_by)
        self._due = False  # a checkpoint of the state read is to be saved, after unlocking
        self._anchor: tuple[int, ...] | None = None  # see checkpoint.anchor

    def prepare(self) -> None:
        """Before the lock: start from the checkpoint, or parse every complete line there is.

        The lines of an append-only file do not change once written, so the slow part of a
        fresh read needs no lock; under the lock only the lines appended meanwhile are read
        (``_read_totals``), and other writers never wait for a rebuild. Anything odd here
        (a torn line, an error) is left for the locked read to find and say.
        """
        if self.state is not None:
            return
        try:
            checked = time.time_ns()  # before the stat: see checkpoint.anchor
            fd, stat = open_ledger_file(self.path, os.O_RDONLY, "read")
            try:
                state = self.from_checkpoint(fd, stat, checked)
                if state is None:
                    state, self._anchor = self.fresh_parser(), checkpoint.anchor(stat, checked)
                end = _complete_lines(fd, stat.st_size)
                if end - state.size >= UNLOCKED_READ:
                    state.feed(FileSpan(fd, state.size, end, self.path))
                if state.size and not state.problems:
                    self._keep(fd, state, (stat.st_dev, stat.st_ino))
            finally:
                os.close(fd)
        except (OSError, LedgerError):
            return  # not ``contextlib.suppress``: importing it is start-up time

    def from_checkpoint(self, fd: int, stat: os.stat_result, checked: int) -> Parser | None:
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
        self.state, self._identity = state, identity
        self._tail = os.pread(fd, keep, state.size - keep)

    def totals(self, fd: int, stat: os.stat_result, checked: int) -> Snapshot:
        """Continue from this process's last clean read, else from the checkpoint, else from 0."""
        identity = (stat.st_dev, stat.st_ino)
        state = self.state
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
        state = self.from_checkpoint(fd, stat, checked)
        if state is None:
            state, self._anchor = self.fresh_parser(), checkpoint.anchor(stat, checked)
        return self._fed_from(fd, state, stat)

    def _fed_from(self, fd: int, state: Parser, stat: os.stat_result) -> Snapshot:
        """``state`` continued with the file's bytes from where it ends, block by block."""
        state.feed(FileSpan(fd, state.size, stat.st_size, self.path))
        if state.problems:
            self.state = None
        else:
            self._keep(fd, state, (stat.st_dev, stat.st_ino))
            self._checkpoint_due(state)
        return state.snapshot()

    def _fed(self, state: Parser, data: bytes, seen: bytes) -> Snapshot:
        """``state`` continued with ``data``, the bytes that follow it; ``seen`` ends with them
        and holds at least the last TAIL bytes read, which become the tail kept."""
        state.feed(data)
        if state.problems:  # never continued from: the next read starts over and says why
            self.state = None
        else:
            self._tail = seen[-checkpoint.TAIL :]
            self._checkpoint_due(state)
        return state.snapshot()

    def folded(self, line: bytes) -> Snapshot:
        """The totals after this transaction appended ``line``. The line follows exactly what
        the locked read found (nobody else appends under the lock, and the state ends where
        that read did), so it is folded from memory rather than read back (six system calls and
        a parse fewer); that holds after the unlock too, as long as this process has not read
        since. With no state to fold into, the file is read, under the lock only."""
        state = self.state
        assert state is not None  # the ledger reads the file instead when there is none
        self._anchor = None  # this write moved the file's times: they vouch for no byte now
        return self._fed(state, line, self._tail + line)

    def _checkpoint_due(self, state: Parser) -> None:
        if state.size - self._saved < checkpoint.EVERY:
            return
        if not self._saved_by_another():
            self._due = True  # made and written after the unlock: see _save_checkpoint
        self._saved = state.size

    def fresh_parser(self) -> Parser:
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

    def save_checkpoint(self) -> None:
        """Once the lock is released: nobody waits while the checkpoint is made (every open
        authorization listed, the hash of every byte) and written. It is this process's own
        state that it describes, which nothing changes until this process reads again; a
        writer's includes the line it appended."""
        due, self._due = self._due, False
        if due and self.state is not None:
            body = checkpoint.body_of(self.state, identity=self._identity, anchored=self._anchor)
            checkpoint.save(self.checkpoint_path, body)
            self._save_seen = checkpoint.saved_by(self.checkpoint_path)


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
