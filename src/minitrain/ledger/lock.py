"""One file, one lock: the lock a writer (exclusive) or a reader (shared) holds around read ->
decide -> append, whatever name it reaches the ledger by.

Two flocks, always in this order: the lock file of the name (``<resolved path>.lock``), then the
ledger file's own inode. Not ``lockf``: closing any descriptor of a file drops every POSIX lock
of the process; ``flock`` locks follow the open file. The lock file alone misses a hard link or
a bind mount of the file (each has a real path, so a lock file, of its own); the inode alone
misses ``git checkout``, which replaces the file (a new inode) under the name: writers that
opened the old file and those that open the new one still meet at the name's lock file. Nothing
waits while holding the inode's lock, so no two writers wait on each other.
"""

from __future__ import annotations

import fcntl
import os
import time

from minitrain.errors import LedgerError
from minitrain.ledger.file import folder_of, is_ledger_file, open_ledger_file


def lock_name(path: str, lock_path: str, how: int) -> int:
    """The lock file of the name ``path`` (``lock_path``), locked ``how``: its descriptor;
    closing it releases the lock. A first exclusive lock makes the ledger's folder."""
    is_ledger_file(path)  # refuse a folder, a FIFO or a device before making a lock
    try:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            if how != fcntl.LOCK_EX:
                raise
            os.makedirs(folder_of(path), exist_ok=True)  # a first write makes it
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(
            f"{lock_path}: cannot create the ledger's lock file: {exc.strerror};"
            " nothing was written (is the folder writable?)"
        ) from None
    try:
        fcntl.flock(fd, how)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_locked(path: str, flags: int, verb: str, lock: int) -> tuple[int, os.stat_result, int]:
    """The ledger at ``path`` opened (FileNotFoundError if there is none), its ``fstat``, and
    the time taken just before that stat (see checkpoint.anchor).

    ``lock`` (LOCK_SH or LOCK_EX; the caller holds the name's lock file already): the file's
    own inode is flocked through this descriptor. A name that no longer holds the file this
    locked (git replaced it while this waited) is opened, and locked, again.
    """
    while True:
        checked = time.time_ns()  # before the stat: see checkpoint.anchor
        fd, stat = open_ledger_file(path, flags, verb)
        if not lock:
            return fd, stat, checked
        try:
            fcntl.flock(fd, lock)
            checked = time.time_ns()
            stat = os.fstat(fd)
            named = os.stat(path)
        except FileNotFoundError:  # removed while this waited: as if never there
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (named.st_dev, named.st_ino) == (stat.st_dev, stat.st_ino):
            return fd, stat, checked
        os.close(fd)
