"""The ledger file's primitives: open it without ever blocking, and only if it is a regular
file; read it in blocks; append one whole line; flush it and its folder. Every OS error becomes a
:class:`LedgerError` naming the file and the cause (``jsonl`` builds the ledger on these).

* The ledger must be a regular file, checked without blocking (``stat``, then ``O_NONBLOCK`` and
  ``fstat`` on what was opened): a FIFO would hang every reader, ``/dev/null`` swallows lines.
* Each line goes out in one ``os.write`` of the whole line (its byte count checked), then
  ``fsync``; the folder is fsynced when the file is created. A buffered ``json.dump`` tore the
  last line in 199/200 kills.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Iterator

from minitrain.errors import LedgerError


class FileSpan:
    """Bytes of an open file still to be read, handed out in blocks (memory stays flat)."""

    __slots__ = ("end", "fd", "path", "start")
    BLOCK = 1 << 20

    def __init__(self, fd: int, start: int, end: int, path: str = "the ledger") -> None:
        self.fd, self.start, self.end, self.path = fd, start, end, path

    def __len__(self) -> int:
        return self.end - self.start

    def blocks(self) -> Iterator[bytes]:
        offset = self.start
        while offset < self.end:
            block = os.pread(self.fd, min(self.BLOCK, self.end - offset), offset)
            if not block:
                raise _ended(self.path, offset, self.end)
            offset += len(block)
            yield block


def is_ledger_file(path: str) -> bool:
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
        is_ledger_file(path)  # a FIFO without a reader says ENXIO; say what it is instead
        raise LedgerError(f"{path}: cannot {verb} the ledger: {exc.strerror}") from None
    try:
        found = os.fstat(fd)
        _require_regular(path, found.st_mode)
    except (LedgerError, OSError):
        os.close(fd)
        raise
    return fd, found


def read_bytes(path: str) -> bytes:
    """The whole ledger file (FileNotFoundError if there is none)."""
    fd, stat = open_ledger_file(path, os.O_RDONLY, "read")
    try:
        return b"".join(FileSpan(fd, 0, stat.st_size, path).blocks())
    finally:
        os.close(fd)


def _ended(path: str, offset: int, size: int) -> LedgerError:
    """A file whose reads end before the size ``stat`` reports: not one this tool writes (a
    file under /sys says 4096 bytes and holds a few), or one cut while it was read."""
    return LedgerError(
        f"{path}: the ledger ended at byte {offset}, before the {size} bytes its size says: not"
        " a ledger file (one under /sys or /proc?), or one cut while it was read; point --ledger"
        " at the .jsonl file, or run the command again"
    )


def write_line(path: str, fd: int, line: bytes) -> None:
    """Append one whole line in one ``os.write``; a short write says what stands."""
    try:
        written = os.write(fd, line)
    except OSError as exc:
        raise LedgerError(
            f"{path}: cannot append to the ledger: {exc.strerror}{_hint(exc)}; nothing was written"
        ) from None
    if written != len(line):
        raise LedgerError(_short_write(path, written, line))


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


def fsync(path: str, fd: int) -> None:
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


def folder_of(path: str) -> str:
    """The folder holding ``path`` (``.`` for a bare file name, as ``Path.parent`` says)."""
    return os.path.dirname(path) or "."


def fsync_dir(ledger: str) -> None:
    try:
        fd = os.open(folder_of(ledger), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LedgerError(
            f"{ledger}: the ledger was created but its folder could not be synced:"
            f" {exc.strerror}; check the disk, then `budget verify`"
        ) from None
