"""The ledger's high-water mark: how long the file was, and what it held, as of the last write a
guard made through this name (``<ledger>.mark``, beside the lock file, kept out of git).

The checkpoint is saved about every 64 KiB, so it alone cannot see a lost last line; the mark is
updated with every write (its length, line count, the totals by lab in cents, the last line's
SHA-256, and the operation that line concerned). A ledger shorter than its mark lost lines that
had been written whole (a truncation, or git checking out an older ledger): every command but
``budget repair`` refuses it, and repair appends a ``loss`` line per lab for what the mark's
totals say is gone, so the books keep counting what was granted.

Signed with the checkpoint's key (HMAC-SHA256, ``checkpoint.secret``): a mark edited or made
without the key is ignored, so it cannot lock anyone out. Its MAC is checked only when it claims
more than the file holds: a ledger in order costs one small read. Like the checkpoint, it does not
stop a person who deletes it with the lines (git history and `budget verify` in CI are for that).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

from minitrain.errors import LedgerError
from minitrain.ledger import checkpoint
from minitrain.ledger._fields import Fields
from minitrain.ledger.entries import Entry, loss_of

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any

    from minitrain.ledger.snapshot import Snapshot

VERSION = 1


class Mark(Fields):
    """What a signed mark says the ledger held after the last write made through it."""

    __slots__ = ("charged", "last", "last_lab", "last_op", "lines", "size")

    def __init__(  # noqa: PLR0917 - the mark's fields
        self,
        size: int,
        lines: int,
        charged: dict[str, int],  # lab ("" = none) -> cents, as the parser keeps them
        last: str,  # SHA-256 of the last line written
        last_op: str | None,  # the operation that line concerned (authorize: its id)
        last_lab: str | None,
    ) -> None:
        self.size, self.lines, self.charged = size, lines, charged
        self.last, self.last_op, self.last_lab = last, last_op, last_lab


def path_for(lock_path: str) -> str:
    return lock_path.removesuffix(".lock") + ".mark"


def shrunk(path: str, checkpoint_path: str, size: int) -> Mark | None:
    """The mark, when it is signed and claims more than the ``size`` bytes the ledger has now;
    None otherwise (no mark, a mark the file reaches, or one nobody signed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # under every writer's lock: no io layer
        try:
            record = os.read(fd, 1 << 16)
        finally:
            os.close(fd)
        if _claimed_size(record) <= size:  # the common case: decided on the unsigned prefix
            return None
        data = json.loads(record)
        body, mac = data["body"], str(data["mac"])
        if body["v"] != VERSION or int(body["size"]) <= size:
            return None
        key = _secret(checkpoint_path, create=False)
        if key is None or not checkpoint.same(
            checkpoint.sign(key, checkpoint.canonical(body)), mac
        ):
            return None
        return Mark(
            int(body["size"]),
            int(body["lines"]),
            {str(lab): int(cents) for lab, cents in body["charged"].items()},
            str(body["last"]),
            None if body["last_op"] is None else str(body["last_op"]),
            None if body["last_lab"] is None else str(body["last_lab"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def refusal(location: str, size: int, mark: Mark) -> LedgerError:
    """Every command but repair: the two causes it cannot tell apart, and what to do for each."""
    return LedgerError(
        f"{location}: the ledger is {size} bytes, shorter than this guard last wrote it"
        f" ({mark.size} bytes, {mark.lines} lines): lines that were granted are gone, and"
        " nothing is decided on what is left. Either a truncation (an editor, a disk, a"
        " `truncate`) or git checked out an older ledger; this cannot tell which. If git did:"
        " check out the newest ledger again (`git log -- <ledger>`, then `git checkout <commit>"
        " -- <ledger>`). If the lines are gone for good: run `budget repair`, which records the"
        " loss by appending, so the books keep counting what was granted"
    )


def losses(found: Mark, now: Snapshot, size: int) -> list[Entry]:
    """A ``loss`` entry per lab whose charge the mark says was higher than the lines left say
    (the amount that went missing); the op id of the mark's last line where that line is gone."""
    charged = {lab: int(amount.scaleb(2)) for lab, amount in now.totals.charged_by_lab.items()}
    seen = {e.id for e in now.entries or ()} | {e.op_id for e in now.entries or () if e.op_id}
    gone = () if found.last_op is None or found.last_op in seen else (found.last_op,)
    reason = (
        f"the ledger was {size} bytes, shorter than its mark ({found.size} bytes, {found.lines}"
        " lines): lines written whole, and granted, were cut (a truncation, or an older ledger"
        " checked out); recorded by `budget repair` so the books keep counting them"
    )
    lost = []
    for lab, cents in sorted(found.charged.items()):
        missing = cents - charged.get(lab, 0)
        if missing > 0:
            ops = gone if lab == (found.last_lab or "") else ()
            lost.append(loss_of(Decimal(missing).scaleb(-2), lab or None, ops, reason))
    if gone and lost and not any(entry.op_ids for entry in lost):
        lost[0] = lost[0].replace(op_ids=gone)
    return lost


def save(
    path: str,
    checkpoint_path: str,
    state: Any,  # a Parser after the write: size, lines, charged
    *,
    last_line: bytes,
    last_op: str | None,
    last_lab: str | None,
    lower: bool = False,
) -> None:
    """Record the ledger as this write left it. Another writer's mark that already reaches
    further stays, unless ``lower`` (repair, after recording a loss).

    One ``pwrite`` over the old record, padded to its length with spaces (which JSON ignores),
    not a temporary file renamed: that cost ~0.8 ms a write here, a writer's whole turn. A
    reader that meets a write half done sees a bad MAC and ignores the mark for that read:
    it fails open, never closed (a mark never claims more than the file held)."""
    import hashlib  # with hmac (the signature) anyway: no more start-up than the key needs

    body = {
        "v": VERSION,
        "size": state.size,
        "lines": state.lines,
        "charged": dict(state.charged),
        "last": hashlib.sha256(last_line).hexdigest(),
        "last_op": last_op,
        "last_lab": last_lab,
    }
    try:
        key = _secret(checkpoint_path, create=True)
        if key is None:  # pragma: no cover - secret() makes one when asked to
            return
        text = checkpoint.canonical(body)
        mac = checkpoint.sign(key, text)
        record = f'{{"size": {state.size}, "body": {text}, "mac": "{mac}"}}'.encode()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            old = os.pread(fd, 1 << 16, 0)
            if lower or _claimed_size(old) <= state.size:
                os.pwrite(fd, record.ljust(len(old)), 0)
        finally:
            os.close(fd)
    except OSError:
        return  # the lock file's folder is writable, or this write had failed before


def _claimed_size(record: bytes) -> int:
    """The size a record claims, read from its unsigned prefix (``{"size": N, ...``) without
    parsing it: -1 if it has none. Only a claim above the file's size is then checked whole
    (its MAC covers the body's own size): a forged prefix can hide a mark, as deleting the
    file can, but never make one refuse."""
    if not record.startswith(_PREFIX):
        return -1
    try:
        return int(record[len(_PREFIX) : record.find(b",", len(_PREFIX))])
    except ValueError:
        return -1


_PREFIX = b'{"size": '
_KEYS: dict[str, bytes] = {}  # checkpoint path -> its key: read once per process (every write)


def _secret(checkpoint_path: str, *, create: bool) -> bytes | None:
    key = _KEYS.get(checkpoint_path)
    if key is None:
        key = checkpoint.secret(checkpoint_path, create=create)
        if key is not None:
            _KEYS[checkpoint_path] = key
    return key
