"""A derived checkpoint of the ledger's totals, so a fresh process need not parse every line.

What it may vouch for, and nothing more: "the first ``size`` bytes of this file (same device and
inode) are exactly the bytes whose SHA-256 is here, and they add up to these totals". Two seals
make that hold:

* **The bytes.** A reader hashes the covered prefix before trusting it (SHA-256 runs at about
  1.5 GB/s here: ~140 ms for 218 MB, against seconds to parse it), so any change to a covered
  byte -- an edit in place of the same size, within the same timestamp tick as the last write,
  or an edit followed by appends -- sends the reader back to the lines. Unless, racy-git's
  rule: the file times (inode, size, mtime, ctime) recorded when every covered byte had been
  read after them still match exactly, and that ctime was at least ``MARGIN_NS`` older than
  the moment they were taken. Any later change then moved the ctime (``os.utime`` cannot set
  it), so equal times mean unchanged bytes; a write within one tick of them is "racy", and the
  reader hashes (then saves again, so the next one need not).
* **The totals.** An HMAC-SHA256 over the whole body, keyed by a per-ledger secret kept beside
  the lock file (``<ledger>.key``, mode 0600, never committed). A checkpoint edited to say
  "nothing spent", with any checksum recomputed, does not carry a valid MAC and is ignored.

It does not stop a deliberate forger who reads the key and recomputes the MAC, nor a deliberate
edit of the ledger itself with its line CRCs recomputed: those are what git history and
``budget verify`` in CI (which never reads the checkpoint) are for. The hash is carried forward
incrementally as the parser reads (``Parser.digest``), so saving never re-reads the file.
"""

from __future__ import annotations

import json
import os

from minitrain.ledger.parser import Parser

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any

VERSION = 3  # 3: amounts in whole cents, open operations as lists
TAIL = 4096
# Saved once a reader has parsed this many bytes past it: a fresh process then parses at most
# ~64 KiB (a few hundred lines, milliseconds) beyond it, and writers rarely pay for the save.
EVERY = 64 * 1024
_CHUNK = 1 << 20
# How much older than the moment the covered bytes were checked the ledger's ctime must be for
# its file times alone to vouch for them: far above any timestamp granularity (a kernel tick,
# 1 s on ext3 or HFS+, 2 s on FAT), so a later change cannot leave the ctime as it was.
MARGIN_NS = 2_000_000_000
# At most this many bytes wait unhashed in a Digest (memory), however late the hash is asked for.
UNHASHED = 1 << 20


class Digest:
    """The SHA-256 of every byte a parser is fed, as segments: those a checkpoint vouched for
    (``[end, hex]``, trusted or re-hashed on load) and the running one since. Segments let a
    reader that trusted the checkpoint by its file times carry its hashes forward unread.

    The hashing starts when the hash is asked for (to save a checkpoint), or once ``UNHASHED``
    bytes wait: a ledger too small to be checkpointed (the lab's own, tens of lines) is never
    hashed, and `budget status` on it never imports ``hashlib`` (OpenSSL: ~3 ms of start-up);
    of many writers on a ledger under ``UNHASHED``, only those that save a checkpoint do (one
    saves per ``EVERY`` bytes between them: see ``FileReader._saved_by_another``).
    """

    __slots__ = ("_fed", "_hasher", "_waiting", "segments", "start")

    def __init__(self, segments: list[list[Any]] | None = None, start: int = 0) -> None:
        self.segments = segments or []
        self.start = start
        self._hasher: Any = None
        self._waiting: list[bytes] = []  # fed before the hashing started: less than EVERY
        self._fed = 0

    def update(self, data: bytes) -> None:
        if self._hasher is not None:
            self._hasher.update(data)
            return
        self._waiting.append(data)
        self._fed += len(data)
        if self._fed >= UNHASHED:
            self._hashing()

    def hexdigest(self) -> str:
        return str(self._hashing().hexdigest())

    def sealed(self, size: int) -> list[list[Any]]:
        if size == self.start:
            return self.segments
        return [*self.segments, [size, self.hexdigest()]]

    def _hashing(self) -> Any:
        if self._hasher is None:
            import hashlib

            self._hasher = hashlib.sha256()
            for data in self._waiting:
                self._hasher.update(data)
            self._waiting = []
        return self._hasher


def new_digest() -> Digest:
    return Digest()


def key_path(checkpoint: str) -> str:
    return checkpoint.removesuffix(".checkpoint") + ".key"


def load(
    path: str, *, fd: int, stat: os.stat_result, checked: int, location: str
) -> tuple[Parser | None, bool, int]:
    """A parser positioned at the checkpoint's end (None if it cannot be trusted), whether
    saving again now would spare the next reader the hashing this one did, and the time after
    which its bytes are known to have been as they are (see :func:`anchor`)."""
    try:
        data = json.loads(_read(path))
        body, mac = data["body"], data["mac"]
        # Refused for what it claims before its MAC is checked (refusing on an unchecked claim
        # only means a full read): a checkpoint of a replaced ledger costs no OpenSSL to load.
        same_file = (body["dev"], body["ino"]) == (stat.st_dev, stat.st_ino)
        if body["v"] != VERSION or not same_file or stat.st_size < int(body["size"]):
            return None, False, checked
        key = secret(path, create=False)
        if key is None or not same(sign(key, canonical(body)), str(mac)):
            return None, False, checked
        digest, resave, since = _trusted(fd, body, stat, checked)
        if digest is None:
            return None, False, checked
        state = Parser.resume(
            location,
            size=int(body["size"]),
            lines=int(body["lines"]),
            charged={str(lab): _cents(v) for lab, v in body["charged_by_lab"].items()},
            open_ops=[_open(op) for op in body["open"]],
            digest=digest,
        )
        if state.reserved != _cents(body["reserved"]):
            return None, False, checked
        return state, resave, since
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError, AttributeError):
        return None, False, checked


def _trusted(
    fd: int, body: dict[str, Any], stat: os.stat_result, checked_now: int
) -> tuple[Digest | None, bool, int]:
    """The covered bytes' hashes, carried forward, if they still hold (None if not).

    Unread when the file is exactly as it was when they were read (inode, size, mtime and
    ctime) and that ctime was at least MARGIN_NS older than the moment the bytes were checked:
    any later change to the file (an edit in place, ``os.utime`` included) sets a ctime at
    least one timestamp tick past it, which user space cannot set back. Otherwise re-hashed.
    """
    size, segments = int(body["size"]), body["sha256"]
    recorded, checked = body.get("stat"), body.get("checked")
    now = [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
    if recorded == now and isinstance(checked, int) and checked - stat.st_ctime_ns >= MARGIN_NS:
        return Digest(segments, size), False, checked
    whole = Digest() if len(segments) > 1 else None  # many segments: fold them into one
    start = 0
    for end, expected in segments:
        if _hash_range(fd, start, int(end), also=whole) != expected:
            return None, False, checked_now
        start = int(end)
    if start != size:
        return None, False, checked_now
    # Saved again (outside any lock), the next reader may trust the file times.
    resave = whole is not None or recorded is None or checked_now - stat.st_ctime_ns >= MARGIN_NS
    if whole is not None:
        segments = [[size, whole.hexdigest()]]
    return Digest(segments, size), resave, checked_now


def anchor(stat: os.stat_result, checked: int) -> tuple[int, ...]:
    """The ledger's file times, taken after the wall-clock time ``checked``, for a parser every
    covered byte of which was read (or vouched for) after that stat: the file was then exactly
    what the parser holds. A parser that read any byte before the stat has none."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, checked)


def body_of(
    parser: Parser, *, identity: tuple[int, int], anchored: tuple[int, ...] | None
) -> dict[str, Any] | None:
    """What a checkpoint of this parser says (None: nothing it could vouch for)."""
    if not isinstance(parser.digest, Digest) or parser.problems:
        return None
    body: dict[str, Any] = {
        "v": VERSION,
        "dev": identity[0],
        "ino": identity[1],
        "size": parser.size,
        "sha256": parser.digest.sealed(parser.size),
        "lines": parser.lines,
        "reserved": _usd(parser.reserved),  # the sum of the open estimates (checked on load)
        "charged_by_lab": {lab: _usd(c) for lab, c in parser.charged.items()},
        "open": [
            {
                "id": op_id,
                "ts": op[0] if isinstance(op[0], str) else op[0].isoformat(),
                "op_label": op[1],
                "lab": op[2],
                "estimated": _usd(op[3]),
                "line": op[4],
            }
            for op_id, op in parser.open.items()
        ],
    }
    if anchored is not None and anchored[1] == parser.size:  # times of exactly these bytes
        body["stat"] = list(anchored[:4])
        body["checked"] = anchored[4]
    return body


def save(path: str, body: dict[str, Any] | None) -> None:
    """Write the checkpoint atomically (rename); any process may, with or without the ledger's
    lock: a stale or partial one is only rebuilt. A failure costs the next reader a parse."""
    if body is None:
        return
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        key = secret(path, create=True)
        if key is None:
            return
        # Encoded once: the text the MAC covers is the body as written (sorted keys, so that
        # a reader re-encoding the body it loads gets the same text back).
        text = canonical(body)
        with open(temp, "w", encoding="utf-8") as out:
            out.write(f'{{"body": {text}, "mac": "{sign(key, text)}"}}')
        os.replace(temp, path)
    except OSError:
        return  # not ``contextlib.suppress``: importing it is start-up time


def saved_by(path: str) -> tuple[int, int] | None:
    """Which save the checkpoint file is (each is a new file: inode and mtime), None if none.
    A writer that sees another's save since its own skips its next one: with many writers, one
    save per ``EVERY`` bytes instead of one each."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def secret(checkpoint: str, *, create: bool) -> bytes | None:
    """The per-ledger secret; made once (0600) by the first writer of a checkpoint (or of the
    high-water mark, ``mark``, which the same key signs)."""
    path = key_path(checkpoint)
    try:
        return _read_bytes(path)
    except FileNotFoundError:
        if not create:
            return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return _read_bytes(path)
    try:
        key = os.urandom(32).hex().encode()
        os.write(fd, key)
    finally:
        os.close(fd)
    return key


def canonical(body: object) -> str:
    return json.dumps(body, sort_keys=True)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def sign(key: bytes, text: str) -> str:
    import hmac

    return hmac.new(key, text.encode(), "sha256").hexdigest()


def same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def _hash_range(fd: int, start: int, end: int, *, also: Digest | None) -> str:
    part = Digest()
    offset = start
    while offset < end:
        chunk = os.pread(fd, min(_CHUNK, end - offset), offset)
        if not chunk:
            raise OSError("the ledger ended before the checkpoint's size")
        part.update(chunk)
        if also is not None:
            also.update(chunk)
        offset += len(chunk)
    return part.hexdigest()


def _open(op: dict[str, object]) -> tuple[str, str, str, str | None, int, int]:
    lab = op["lab"]
    return (
        str(op["id"]),
        str(op["ts"]),
        str(op["op_label"]),
        None if lab is None else str(lab),
        _cents(op["estimated"]),
        int(str(op["line"])),
    )


def _usd(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(text: object) -> int:
    whole, _, part = str(text).partition(".")
    if not (whole.isdigit() and whole.isascii() and len(part) == 2 and part.isdigit()):
        raise ValueError(f"not dollars and cents: {text!r}")
    return int(whole) * 100 + int(part)
