"""The derived checkpoint: used while it can be trusted, rebuilt from the lines whenever not."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, LedgerError
from minitrain.ledger import checkpoint as checkpoint_module
from minitrain.ledger import entries, line_format, parser, reader
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("file_mode")


@pytest.fixture(autouse=True)
def _save_every_time(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small ledgers here: save after every new byte instead of every 64 KiB."""
    if "default_threshold" not in request.keywords:
        monkeypatch.setattr(checkpoint_module, "EVERY", 1)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, path)
    guard.authorize("a", "1.00")
    guard.record_actual("a", "0.40")
    guard.authorize("b", "2.00")
    return path


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many bytes each parse was given: 0 means the checkpoint stood in for every line."""
    sizes: list[int] = []
    real = parser.Parser.feed

    def spy(self: parser.Parser, data: bytes) -> None:
        sizes.append(len(data))
        real(self, data)

    monkeypatch.setattr(parser.Parser, "feed", spy)
    return sizes


def fresh_total(path: Path) -> Decimal:
    return BudgetGuard(5, path).total_spent  # a new guard: nothing cached in this object


def checkpoint(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def test_a_fresh_reader_starts_from_the_checkpoint(ledger: Path, fed: list[int]) -> None:
    assert checkpoint(ledger).exists()
    assert fresh_total(ledger) == Decimal("2.40")
    assert fed == [0]


def test_lines_appended_after_the_checkpoint_are_read(ledger: Path, fed: list[int]) -> None:
    line = line_format.encode(entries.new_entry("authorize", "c", estimated=Decimal("0.50")))
    with ledger.open("ab") as f:  # an append the checkpoint did not see
        f.write(line)
    assert fresh_total(ledger) == Decimal("2.90")
    assert fed == [len(line)]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace('"reserved": "2.00"', '"reserved": "0.00"'),  # edited
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "",  # emptied
        lambda text: "not json",
    ],
    ids=["edited", "truncated", "emptied", "garbage"],
)
def test_a_damaged_checkpoint_is_ignored_and_rebuilt(
    ledger: Path, fed: list[int], damage: object
) -> None:
    path = checkpoint(ledger)
    path.write_text(damage(path.read_text()))  # type: ignore[operator]
    assert fresh_total(ledger) == Decimal("2.40")
    assert fed == [ledger.stat().st_size]
    assert fresh_total(ledger) == Decimal("2.40")  # ... and rebuilt: the next reader uses it
    assert fed[-1] == 0


def test_a_ledger_swapped_under_the_checkpoint_is_read_in_full(
    ledger: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.jsonl"
    newer = BudgetGuard(5, other)
    for label in "wxyz":  # longer than the ledger it replaces: not an older one (see mark.py)
        newer.authorize(label, "1.10")
    other.replace(ledger)  # `git checkout`: another file at the same path
    assert fresh_total(ledger) == Decimal("4.40")


def test_an_edit_in_place_is_not_hidden_by_the_checkpoint(ledger: Path) -> None:
    data = ledger.read_bytes()
    with ledger.open("r+b") as f:  # same inode, same size, one digit changed
        f.write(data.replace(b'"2.00"', b'"1.00"'))
    with pytest.raises(LedgerError, match="crc32 does not match"):
        fresh_total(ledger)


def test_a_truncated_and_regrown_ledger_is_read_in_full(ledger: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    guard = BudgetGuard(5, other)
    for label in "wxyz":
        guard.authorize(label, "1.10")
    ledger.write_bytes(other.read_bytes())  # same inode, longer, different bytes
    assert fresh_total(ledger) == Decimal("4.40")


def test_a_stale_checkpoint_from_another_ledger_is_ignored(ledger: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    BudgetGuard(5, other).authorize("x", "0.10")
    checkpoint(other).replace(checkpoint(ledger))
    assert fresh_total(ledger) == Decimal("2.40")


def test_the_checkpoint_is_derived_data_only(ledger: Path) -> None:
    data = json.loads(checkpoint(ledger).read_text())
    assert set(data) == {"body", "mac"}
    assert data["body"]["size"] == ledger.stat().st_size
    assert [op["op_label"] for op in data["body"]["open"]] == ["b"]


@pytest.mark.default_threshold
def test_saved_only_once_a_reader_has_parsed_64_kib_past_it(tmp_path: Path) -> None:
    path = tmp_path / "spend.jsonl"
    guard = BudgetGuard(100000, path)
    guard.authorize("first", "0.01")
    assert not checkpoint(path).exists()  # one line: cheaper to parse than to save
    line_size = path.stat().st_size
    for i in range(checkpoint_module.EVERY // line_size + 1):
        guard.authorize(f"op-{i}", "0.01")
    assert checkpoint(path).exists()


def reseal(line: bytes, **changes: object) -> bytes:
    """A line edited as a careful hand would: new values, its own CRC recomputed."""
    fields = json.loads(line)
    del fields["crc32"]
    fields.update(changes)
    return line_format.seal(fields)


def test_a_forged_checkpoint_saying_nothing_spent_cannot_authorize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's reproduction: $337.50 spent, the checkpoint edited to say nothing was, its
    checksum recomputed; `authorize --ceiling 340 big 300` must still be refused."""
    from minitrain.cli.budget import main

    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(340, ledger)
    guard.authorize("a", "300.00")
    guard.authorize("b", "37.50")
    path = checkpoint(ledger)
    data = json.loads(path.read_text())
    data["body"].update(reserved="0", charged_by_lab={}, open=[])
    forger_key = b"a guess: the real key is not in git"
    data["mac"] = checkpoint_module.sign(forger_key, checkpoint_module.canonical(data["body"]))
    path.write_text(json.dumps(data))
    assert main(["authorize", "big", "300", "--ceiling", "340", "--ledger", str(ledger)]) == 3
    assert "spent $337.50" in capsys.readouterr().err


def test_the_key_is_private_and_beside_the_lock(ledger: Path) -> None:
    key = Path(checkpoint_module.key_path(str(checkpoint(ledger))))
    assert key == ledger.with_name("spend.jsonl.key")
    assert key.stat().st_mode & 0o777 == 0o600
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert "*.jsonl.key" in gitignore


def test_a_same_size_edit_right_after_a_write_is_not_hidden(ledger: Path) -> None:
    """No file time is trusted (a write within one tick leaves them equal): the covered bytes'
    hash is. An early line edited in place, same size, its CRC recomputed, right after a write."""
    BudgetGuard(5, ledger).authorize("c", "0.10")  # a guard write; the checkpoint is fresh
    lines = ledger.read_bytes().splitlines(keepends=True)
    lines[2] = reseal(lines[2], estimated="9.00")  # b's "2.00" -> "9.00": same length
    with ledger.open("r+b") as f:
        f.write(b"".join(lines))
    assert fresh_total(ledger) == Decimal("9.50")  # what the file now says: 0.40 + 9.00 + 0.10


def test_an_early_edit_followed_by_appends_is_not_hidden(ledger: Path) -> None:
    lines = ledger.read_bytes().splitlines(keepends=True)
    lines[2] = reseal(lines[2], estimated="3.00")
    with ledger.open("r+b") as f:
        f.write(b"".join(lines))
    line = line_format.encode(entries.new_entry("authorize", "c", estimated=Decimal("0.50")))
    with ledger.open("ab") as f:  # longer now: the old check only looked at the last 4 KiB
        f.write(line)
    assert fresh_total(ledger) == Decimal("3.90")


def lock_is_free(ledger: Path) -> bool:
    """Whether another open file description could take the ledger's lock right now."""
    import fcntl
    import os

    fd = os.open(ledger.with_name(ledger.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases it, if taken
    return True


def wait_one_tick(folder: Path, ctime_ns: int) -> None:
    """Until a change made now gets a later ctime than ``ctime_ns`` (the file system's tick)."""
    probe = folder / "probe"
    probe.write_bytes(b"")
    while probe.stat().st_ctime_ns <= ctime_ns:
        probe.write_bytes(b"")


def test_a_long_running_writer_does_not_vouch_for_bytes_read_before_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard that read the ledger, then appends after an early line was edited in place (its
    own check compares only the last 4 KiB): its checkpoint must not carry the file times."""
    import os

    monkeypatch.setattr(checkpoint_module, "MARGIN_NS", 0)
    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(100, ledger)
    for i in range(40):  # past the 4 KiB a running guard compares
        guard.authorize(f"op-{i}", "1.00")
    assert guard.total_spent == Decimal("40.00")
    before = ledger.stat()
    wait_one_tick(tmp_path, before.st_ctime_ns)
    lines = ledger.read_bytes().splitlines(keepends=True)
    lines[0] = reseal(lines[0], estimated="9.00")
    with ledger.open("r+b") as f:
        f.write(b"".join(lines))
    os.utime(ledger, ns=(before.st_atime_ns, before.st_mtime_ns))
    guard.authorize("last", "1.00")  # saves a checkpoint of what it read before the edit
    assert fresh_total(ledger) == Decimal("49.00")  # a fresh reader sees the edit


def test_an_edit_after_a_trusted_checkpoint_moves_the_ctime_and_is_caught(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file times stand in for the hash only when they cannot hide a change: an in-place
    edit with the mtime set back (``os.utime``) still moves the ctime, which nobody can set."""
    import os

    monkeypatch.setattr(checkpoint_module, "MARGIN_NS", 0)  # no waiting for the margin here
    hashed: list[int] = []
    real_hash = checkpoint_module._hash_range
    monkeypatch.setattr(
        checkpoint_module, "_hash_range", lambda *a, **k: hashed.append(1) or real_hash(*a, **k)
    )
    assert fresh_total(ledger) == Decimal("2.40")  # a writer's checkpoint: re-hashed, saved again
    assert hashed
    hashed.clear()
    assert fresh_total(ledger) == Decimal("2.40")
    assert hashed == []  # trusted by its file times: not one covered byte re-read
    before = ledger.stat()
    wait_one_tick(tmp_path, before.st_ctime_ns)
    lines = ledger.read_bytes().splitlines(keepends=True)
    lines[2] = reseal(lines[2], estimated="9.00")  # same size, its CRC recomputed
    with ledger.open("r+b") as f:
        f.write(b"".join(lines))
    os.utime(ledger, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime set back
    after = ledger.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns
    assert fresh_total(ledger) == Decimal("9.40")  # what the file now says
    assert hashed


def test_a_stale_checkpoint_is_rebuilt_without_the_lock_and_caught_up_under_it(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new inode (``git pull``, ``cp``): the lines are parsed before the lock is taken; only a
    line another writer appended meanwhile is read under it, and the checkpoint is saved after."""

    monkeypatch.setattr(reader, "UNLOCKED_READ", 1)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(ledger.read_bytes())
    copy.replace(ledger)  # the checkpoint is stale now
    fed: list[tuple[int, bool]] = []
    real_feed, real_save = parser.Parser.feed, checkpoint_module.save
    saved: list[bool] = []

    def feed(self: parser.Parser, data: bytes) -> None:
        fed.append((len(data), lock_is_free(ledger)))
        if len(fed) == 1:  # another writer appends while this one parses
            BudgetGuard(5, ledger).authorize("meanwhile", "0.25")
        real_feed(self, data)

    def save(path: str, body: object) -> None:
        saved.append(lock_is_free(ledger))
        real_save(path, body)  # type: ignore[arg-type]

    monkeypatch.setattr(parser.Parser, "feed", feed)
    monkeypatch.setattr(checkpoint_module, "save", save)
    guard = BudgetGuard(5, ledger)
    size = ledger.stat().st_size
    guard.authorize("c", "0.10")
    assert guard.total_spent == Decimal("2.75")
    assert fed[0] == (size, True)  # the whole prefix, with nobody locked out
    appended = [n for n, free in fed if not free and n]
    assert appended  # under the lock: only the lines appended since
    assert max(appended) < size
    assert saved  # the checkpoint is written after the lock is released
    assert all(saved)


def _numbers(guard: BudgetGuard) -> tuple[object, ...]:
    status = guard.status()
    return status.spent, status.reserved, status.charged_by_lab, status.open_operations


@pytest.mark.parametrize("behind", ["near", "far"])
def test_writers_that_fold_their_own_lines_agree_with_a_fresh_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behind: str
) -> None:
    """A writer folds the line it just appended from memory (under the lock nobody else
    appends), and catches up on the others' lines in one read (near) or block by block (far
    behind): its numbers, line numbers included, and the checkpoints it saves must be what
    reading the file says."""
    if behind == "far":
        monkeypatch.setattr(reader, "UNLOCKED_READ", 300)  # a line or two is "far" here
    path = tmp_path / "spend.jsonl"
    writers = [BudgetGuard(100, path, lab_caps={"02": 60, "03": 30}) for _ in range(3)]
    for i in range(12):
        writer = writers[i % 3]
        writer.authorize(f"lab0{2 + i % 2}-op-{i}", "0.25")
        if i % 4 == 3:
            writer.record_actual(f"lab0{2 + i % 2}-op-{i}", "0.10")
        fresh = BudgetGuard(100, path, lab_caps={"02": 60, "03": 30})
        assert all(_numbers(w) == _numbers(fresh) for w in writers)


@pytest.mark.default_threshold
def test_many_writers_save_one_checkpoint_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each writer saves once it has read EVERY bytes past the checkpoint it knows, unless
    another saved since: sixteen writers take turns saving, not sixteen saves per EVERY bytes."""
    saved: list[int] = []
    real = checkpoint_module.save

    def counted(path: str, body: dict[str, object] | None) -> None:
        saved.append(1)
        real(path, body)

    monkeypatch.setattr(checkpoint_module, "save", counted)
    path = tmp_path / "spend.jsonl"
    writers = [BudgetGuard(100000, path) for _ in range(16)]
    for i in range(90):
        for k, writer in enumerate(writers):
            writer.authorize(f"w{k}-{i}", "0.01")
    boundaries = path.stat().st_size // checkpoint_module.EVERY
    assert boundaries >= 3
    assert len(saved) <= 2 * boundaries  # 16 per boundary before
    assert fresh_total(path) == Decimal("14.40")
    # and a writer that never saved never hashed (under UNHASHED: no OpenSSL to load for it)
    hashed = [w for w in writers if w._ledger._reader.state.digest._hasher is not None]  # type: ignore[attr-defined]
    assert len(hashed) <= len(saved) < len(writers)


@pytest.mark.default_threshold
@pytest.mark.parametrize(
    "sizes", [[10, 20], [40_000, 40_000, 5], [70_000], [600_000, 600_000, 3], [1 << 21]]
)
def test_the_digest_is_the_sha256_of_every_byte_fed_however_late_it_starts_hashing(
    sizes: list[int],
) -> None:
    """Under UNHASHED the bytes wait unhashed (a small ledger never imports hashlib, nor does a
    writer that never saves); whenever the hash is asked for, it is the SHA-256 of all of them,
    in order, and no more than UNHASHED bytes ever wait."""
    import hashlib

    digest = checkpoint_module.Digest()
    pieces = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    for piece in pieces:
        digest.update(piece)
        assert digest._fed < checkpoint_module.UNHASHED or not digest._waiting
    assert digest.hexdigest() == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_a_checkpoint_is_made_and_written_with_the_lock_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making a checkpoint lists every open authorization and hashes every byte (with
    thousands open, milliseconds): other writers never wait for it. It describes the state
    the turn ended with, its own line included, and a fresh reader gets the same totals."""
    import fcntl

    path = tmp_path / "spend.jsonl"
    made: list[tuple[int, bool]] = []
    real = checkpoint_module.body_of

    def body_of(state: parser.Parser, **kwargs: object) -> dict[str, object] | None:
        probe = open(f"{path}.lock", "a")  # noqa: PTH123, SIM115 - a second open file description
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free = True
        except BlockingIOError:
            free = False
        finally:
            probe.close()
        made.append((state.size, free))
        return real(state, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpoint_module, "body_of", body_of)
    guard = BudgetGuard(5, path)
    for n in range(3):
        guard.authorize(f"op{n}", "1.00")
        guard.record_actual(f"op{n}", "0.50")
    assert made
    assert all(free for _, free in made)
    assert made[-1][0] == path.stat().st_size  # the last turn's own line included
    saved = json.loads(path.with_name("spend.jsonl.checkpoint").read_text())
    assert saved["body"]["size"] == path.stat().st_size
    assert BudgetGuard(5, path).total_spent == Decimal("1.50")
