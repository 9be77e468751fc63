"""The guard's contract. Runs in either mode; tests about bytes on disk ask for ``file_mode``.

``BUDGET_GUARD_TEST_MODE=1 pytest tests/minitrain/test_budget_guard.py`` must pass too.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from minitrain import (
    AlreadyRecorded,
    BudgetGuard,
    BudgetGuardExceeded,
    InputError,
)
from minitrain.errors import AlreadyOpen, NoReservation
from minitrain.ledger import entries, line_format
from tests.racing import race, race_one_label

# --- the seed's stop conditions -------------------------------------------------------------


def test_seed_stop_conditions(guard: BudgetGuard) -> None:
    guard.authorize("lab02-tp-spinup", 3.00)
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("hypothetical-lab", 10.00)
    assert guard.total_spent == Decimal("3.00")
    assert guard.remaining == Decimal("2.00")


def test_refusal_carries_and_says_the_numbers(guard: BudgetGuard) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    with pytest.raises(BudgetGuardExceeded) as caught:
        guard.authorize("hypothetical-lab", "10.00")
    error = caught.value
    assert (error.estimated, error.spent, error.limit, error.remaining) == (
        Decimal("10.00"),
        Decimal("3.00"),
        Decimal("5.00"),
        Decimal("2.00"),
    )
    assert str(error) == (
        "refused 'hypothetical-lab': estimate $10.00 + spent $3.00 = $13.00 would exceed"
        " the ceiling $5.00 (remaining $2.00)"
    )


def test_five_hundred_cents_fit_a_five_dollar_ceiling_and_not_one_more(guard: BudgetGuard) -> None:
    for i in range(500):
        guard.authorize(f"op-{i}", 0.01)  # floats on purpose: 500 x 0.01 as floats != 5.00
    assert guard.total_spent == Decimal("5.00")
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("op-500", 0.01)
    assert guard.remaining == Decimal("0.00")


def test_spending_exactly_the_ceiling_is_allowed(guard: BudgetGuard) -> None:
    guard.authorize("all-of-it", "5.00")
    assert guard.remaining == 0


# --- what counts as spent ---------------------------------------------------------------------


def test_actual_replaces_the_reservation_it_closes(guard: BudgetGuard) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.record_actual("lab02-tp-spinup", "2.10")
    assert guard.total_spent == Decimal("2.10")
    status = guard.status()
    assert status.reserved == 0
    assert [op.actual for op in guard.operations()] == [Decimal("2.10")]


def test_actual_above_estimate_counts_in_full_even_past_the_ceiling(guard: BudgetGuard) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.record_actual("lab02-tp-spinup", "5.50")  # the money is gone; the books say so
    assert guard.remaining == Decimal("-0.50")
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("anything", "0.00")  # 5.50 + 0 > 5.00


def test_a_second_open_reservation_of_a_label_is_refused_naming_the_first(
    guard: BudgetGuard,
) -> None:
    """Issue 21: `budget authorize same 1.00` twice reserved twice. Labels are one whatever
    their case; the refusal names the open one and the way to close it, and writes nothing."""
    guard.authorize("same", "1.00")
    first = guard.status().open_operations[0]
    for again in ("same", "SAME", "Same"):
        with pytest.raises(
            AlreadyOpen, match=r"same already has an open reservation: \$1\.00"
        ) as e:
            guard.authorize(again, "1.00")
        assert e.value.op_id == first.id
        assert f"op id {first.id}" in str(e.value)
        assert "`budget record same USD`" in str(e.value)
    assert guard.total_spent == Decimal("1.00")
    guard.record_actual("same", "0.80")
    guard.authorize("same", "1.00")  # closed: the label may name a new reservation
    assert guard.total_spent == Decimal("1.80")


@pytest.mark.usefixtures("file_mode")  # processes share a file; in test mode each has its own
def test_racing_processes_open_one_reservation_of_a_label(ledger: Path) -> None:
    """Two terminals running the same pre-flight at once: exactly one reservation."""
    granted = race_one_label(ledger, procs=8)
    assert granted == 1
    assert [op.label for op in BudgetGuard("5.00", ledger).operations()] == ["twin"]


def test_an_actual_closes_the_label_s_open_reservation_whatever_its_case(
    guard: BudgetGuard,
) -> None:
    guard.authorize("lab02-x", "1.00")
    guard.record_actual("LAB02-X", "0.50")
    assert guard.total_spent == Decimal("0.50")
    assert guard.status().open_operations == ()


def test_actual_by_op_id_closes_that_one(guard: BudgetGuard) -> None:
    guard.authorize("retry", "1.00")
    first = guard.operations()[0]
    with pytest.raises(InputError, match="no authorization nope of 'retry'"):
        guard.record_actual("retry", "0.75", op_id="nope")
    guard.record_actual("retry", "0.75", op_id=first.id)
    assert guard.operations()[0].actual == Decimal("0.75")


def test_an_actual_with_no_reservation_is_refused_naming_the_nearest_open_label(
    guard: BudgetGuard, ledger: Path
) -> None:
    """Issue 21: a typo (`lab02-tp-spinpu`) was recorded as an unmatched actual and the money
    counted twice. Now it is refused, nothing is written, and the open labels are suggested,
    the nearest first."""
    guard.authorize("lab02-tp-spinup", "1.00")
    guard.authorize("lab03-train", "0.50")
    before = ledger.read_bytes() if ledger.exists() else b""
    with pytest.raises(NoReservation) as caught:
        guard.record_actual("lab02-tp-spinpu", "0.80")
    assert "no open reservation of 'lab02-tp-spinpu' (the open ones are: lab02-tp-spinup," in (
        str(caught.value)
    )
    assert "budget record --unplanned lab02-tp-spinpu USD" in str(caught.value)
    assert (ledger.read_bytes() if ledger.exists() else b"") == before
    assert guard.total_spent == Decimal("1.50")
    with pytest.raises(NoReservation):
        guard.would_record_actual("lab02-tp-spinpu")


def test_an_unplanned_actual_is_recorded_when_said_so(guard: BudgetGuard) -> None:
    guard.record_actual("forgot", "0.40", unplanned=True)
    assert guard.total_spent == Decimal("0.40")
    [op] = guard.operations()
    assert (op.label, op.estimated, op.actual) == ("forgot", None, Decimal("0.40"))
    with pytest.raises(AlreadyRecorded):  # a second unplanned actual takes a new label
        guard.record_actual("forgot", "0.40", unplanned=True)
    guard.authorize("planned", "1.00")
    with pytest.raises(InputError, match="planned has an open reservation; its actual closes"):
        guard.record_actual("planned", "0.40", unplanned=True)
    assert guard.total_spent == Decimal("1.40")


def test_second_actual_for_the_same_authorization_is_refused(guard: BudgetGuard) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.record_actual("lab02-tp-spinup", "2.47")
    with pytest.raises(AlreadyRecorded, match=r"already recorded: \$2\.47 .*ledger line 2"):
        guard.record_actual("lab02-tp-spinup", "2.47")
    assert guard.total_spent == Decimal("2.47")


def test_would_record_actual_decides_as_record_actual_and_writes_nothing(
    guard: BudgetGuard,
) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.would_record_actual("lab02-tp-spinup")  # open: nothing to refuse
    guard.record_actual("lab02-tp-spinup", "2.47")
    before = guard.operations()
    with pytest.raises(AlreadyRecorded, match=r"already recorded: \$2\.47 .*ledger line 2"):
        guard.would_record_actual("lab02-tp-spinup")
    with pytest.raises(NoReservation):
        guard.would_record_actual("never-authorized")
    guard.would_record_actual("never-authorized", unplanned=True)
    assert guard.operations() == before


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-1, "negative"),
        ("-0.01", "negative"),
        (float("nan"), "not a finite number"),
        ("NaN", "not a finite number"),
        (float("inf"), "not a finite number"),
        ("Infinity", "not a finite number"),
        ("three dollars", "not a number of dollars"),
        ("", "not a number of dollars"),
        (True, "must be a number of dollars"),
        (None, "must be a number of dollars"),
        ("3.005", "fractions of a cent; write whole cents, e.g. 3.01"),
        (0.1 + 0.2, "fractions of a cent"),  # a float sum, caught rather than rounded
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(
    guard: BudgetGuard, ledger: Path, amount: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        guard.authorize("op", amount)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        guard.record_actual("op", amount)  # type: ignore[arg-type]
    assert not ledger.exists()
    assert guard.total_spent == 0


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("two\nlines", r"holds '\\n'; a label is 1-120 ASCII letters"),
        ("bell\x07", r"holds '\\x07'"),
        (" padded", "does not start with a letter"),
        ("padded ", r"holds ' '"),
        ("x" * 121, r"\.\.\. \(121 characters\) is over 120 characters"),
        (None, "is empty"),
    ],
)
def test_bad_labels_are_refused(
    guard: BudgetGuard, ledger: Path, label: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        guard.authorize(label, "1.00")  # type: ignore[arg-type]
    assert not ledger.exists()


def test_input_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the builtin is the point
        BudgetGuard(-1, "x.jsonl")


def test_sub_cent_ceiling_and_negative_ceiling_are_refused(ledger: Path) -> None:
    with pytest.raises(InputError, match="negative"):
        BudgetGuard("-5", ledger)
    with pytest.raises(InputError, match="fractions of a cent"):
        BudgetGuard("5.001", ledger)


# --- the ceiling override ---------------------------------------------------------------------


def test_env_ceiling_overrides_the_constructor(
    monkeypatch: pytest.MonkeyPatch, ledger: Path
) -> None:
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", "2.00")
    guard = BudgetGuard(5.00, ledger)
    assert (guard.ceiling, guard.ceiling_source) == (Decimal("2.00"), "LYNX_CLOUD_BUDGET_USD")
    with pytest.raises(BudgetGuardExceeded, match=r"ceiling \$2\.00"):
        guard.authorize("lab02-tp-spinup", "3.00")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "LYNX_CLOUD_BUDGET_USD 'abc' is not a number of dollars"),
        ("nan", "LYNX_CLOUD_BUDGET_USD 'nan' is not a finite number"),
        ("inf", "LYNX_CLOUD_BUDGET_USD 'inf' is not a finite number"),
        ("-1", "LYNX_CLOUD_BUDGET_USD '-1' is negative"),
        ("", "LYNX_CLOUD_BUDGET_USD is set but empty"),
    ],
)
def test_bad_env_ceiling_is_an_error_never_ignored(
    monkeypatch: pytest.MonkeyPatch, ledger: Path, value: str, message: str
) -> None:
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", value)
    with pytest.raises(InputError, match=message):
        BudgetGuard(5.00, ledger)


# --- test mode --------------------------------------------------------------------------------


def test_test_mode_writes_nothing_but_starts_from_the_file(
    monkeypatch: pytest.MonkeyPatch, ledger: Path
) -> None:
    monkeypatch.delenv("BUDGET_GUARD_TEST_MODE", raising=False)
    BudgetGuard(5, ledger).authorize("lab02-tp-spinup", "3.00")
    before = ledger.read_bytes()
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "1")
    guard = BudgetGuard(5, ledger)
    assert guard.total_spent == Decimal("3.00")
    guard.authorize("more", "2.00")
    assert guard.remaining == 0
    assert ledger.read_bytes() == before
    assert BudgetGuard(5, ledger).total_spent == Decimal("3.00")  # the memory dies with it


def test_test_mode_with_no_file_creates_none(monkeypatch: pytest.MonkeyPatch, ledger: Path) -> None:
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "1")
    BudgetGuard(5, ledger).authorize("x", 1)
    assert list(ledger.parent.iterdir()) == [ledger.parent / "home"]


def test_unknown_test_mode_value_is_an_error(monkeypatch: pytest.MonkeyPatch, ledger: Path) -> None:
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "yes")
    with pytest.raises(InputError, match="BUDGET_GUARD_TEST_MODE='yes'"):
        BudgetGuard(5, ledger)


# --- per-lab caps -----------------------------------------------------------------------------


def test_lab_cap_refuses_before_the_ceiling_does(ledger: Path) -> None:
    guard = BudgetGuard(5, ledger, lab_caps={"02": "3.00", "buffer": "2.00"})
    guard.authorize("lab02-tp-spinup", "2.50")
    with pytest.raises(BudgetGuardExceeded, match=r"lab 02 cap \$3\.00") as caught:
        guard.authorize("lab02-retry", "1.00")
    assert caught.value.limit_name == "lab 02 cap"
    guard.authorize("setup-tax", "2.00")  # outside any lab: draws on the buffer
    with pytest.raises(BudgetGuardExceeded, match=r"buffer cap \$2\.00"):
        guard.authorize("reading", "0.01")
    # a lab the caps do not name is refused, not sent quietly to the buffer (issue 21)
    with pytest.raises(InputError, match="names lab 03, which the manifest does not cap"):
        guard.authorize("lab03-reading", "0.01")


def test_an_explicit_lab_names_the_lab_of_a_label_without_one(ledger: Path) -> None:
    guard = BudgetGuard(5, ledger, lab_caps={"2": "3.00", "buffer": "2.00"})
    guard.authorize("spinup", "3.00", lab="002")
    assert guard.status().lab_spent("02") == Decimal("3.00")


@pytest.mark.usefixtures("file_mode")
def test_a_stored_lab_in_other_digits_still_counts_against_its_cap(ledger: Path) -> None:
    """A line written before labs were checked (Arabic-Indic 03) draws on lab 03, not the buffer."""
    old = entries.new_entry("authorize", "old", estimated=Decimal("0.50"), lab="٠٣")
    ledger.write_bytes(line_format.encode(old))
    guard = BudgetGuard(5, ledger, lab_caps={"03": "0.50", "buffer": "4.50"})
    with pytest.raises(BudgetGuardExceeded, match="lab 03 cap"):
        guard.authorize("lab03-x", "0.01")


# --- the file on disk -------------------------------------------------------------------------


@pytest.mark.usefixtures("file_mode")
def test_lines_have_the_seed_fields(guard: BudgetGuard, ledger: Path) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.record_actual("lab02-tp-spinup", "2.10")
    first, second = (json.loads(line) for line in ledger.read_text().splitlines())
    assert first["op_label"] == "lab02-tp-spinup"
    assert (first["estimated"], first["currency"], first["kind"]) == ("3.00", "USD", "authorize")
    assert "actual" not in first
    assert first["ts"].endswith("+00:00")
    assert (second["actual"], second["op_id"], second["estimated"]) == ("2.10", first["id"], "3.00")


@pytest.mark.usefixtures("file_mode")
def test_no_operation_changes_existing_bytes(guard: BudgetGuard, ledger: Path) -> None:
    seen = b""
    steps = [
        lambda: guard.authorize("a", "1.00"),
        lambda: guard.record_actual("a", "0.50"),
        lambda: guard.authorize("b", "2.00"),
        lambda: guard.authorize("too-much", "9.00"),
        lambda: guard.record_actual("a", "0.50"),
        lambda: guard.authorize("bad", "nan"),
        guard.status,
    ]
    for step in steps:
        with contextlib.suppress(BudgetGuardExceeded, InputError):
            step()
        data = ledger.read_bytes()
        assert data.startswith(seen)
        seen = data
    assert len(seen.splitlines()) == 3


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.usefixtures("file_mode")
def test_racing_processes_never_breach_the_ceiling(ledger: Path) -> None:
    won = race(lambda: BudgetGuard("1.00", ledger), procs=8, tries=20)
    assert won == 100  # 160 tries of $0.01 at a $1.00 ceiling
    assert BudgetGuard("1.00", ledger).total_spent == Decimal("1.00")
    assert len(ledger.read_bytes().splitlines()) == 100


# --- a reference model ------------------------------------------------------------------------


class ReferenceModel(RuleBasedStateMachine):
    """Random authorize / record_actual against a few lines of obvious arithmetic.

    Subclasses say where the guard keeps its ledger (``make_guard``); the PostgreSQL suite
    reuses this class unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.guard = self.make_guard()
        self.open: dict[str, list[Decimal]] = {}  # label -> open estimates, oldest first
        self.closed: set[str] = set()
        self.spent = Decimal(0)

    def make_guard(self) -> BudgetGuard:
        raise NotImplementedError

    @rule(
        label=st.sampled_from(["a", "b", "c", "A"]), cents=st.integers(min_value=0, max_value=300)
    )
    def authorize(self, label: str, cents: int) -> None:
        amount = Decimal(cents) / 100
        if self.open.get(label.lower()):
            with pytest.raises(AlreadyOpen):
                self.guard.authorize(label, amount)
            return
        if self.spent + amount > 5:
            with pytest.raises(BudgetGuardExceeded):
                self.guard.authorize(label, amount)
            return
        self.guard.authorize(label, amount)
        self.open.setdefault(label.lower(), []).append(amount)
        self.closed.discard(label.lower())
        self.spent += amount

    @rule(
        label=st.sampled_from(["a", "b", "c", "d"]), cents=st.integers(min_value=0, max_value=300)
    )
    def record(self, label: str, cents: int) -> None:
        amount = Decimal(cents) / 100
        if self.open.get(label):
            self.guard.record_actual(label, amount)
            self.spent += amount - self.open[label].pop()
            self.closed.add(label)
        elif label in self.closed:
            with pytest.raises(AlreadyRecorded):
                self.guard.record_actual(label, amount)
        else:
            with pytest.raises(NoReservation):
                self.guard.record_actual(label, amount)
            if label == "d":  # said to be unplanned: recorded and counted
                self.guard.record_actual(label, amount, unplanned=True)
                self.spent += amount
                self.closed.add(label)

    @invariant()
    def totals_match(self) -> None:
        status = self.guard.status()
        assert status.spent == self.spent
        assert status.remaining == Decimal("5.00") - self.spent
        reserved = sum((sum(v, Decimal(0)) for v in self.open.values()), Decimal(0))
        assert status.reserved == reserved
        listed = self.guard.operations()  # every record, folded the other way
        assert sum((op.charged for op in listed), Decimal(0)) == self.spent
        open_listed = sorted((op.id, op.line) for op in listed if op.is_open)
        assert sorted((op.id, op.line) for op in status.open_operations) == open_listed


def test_random_sequences_match_a_reference_model(tmp_path: Path) -> None:
    counter = iter(range(10**6))

    class OnFiles(ReferenceModel):
        def make_guard(self) -> BudgetGuard:
            return BudgetGuard("5.00", tmp_path / f"ledger-{next(counter)}.jsonl")

    run_state_machine_as_test(
        OnFiles,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
