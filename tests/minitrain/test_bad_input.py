"""One invalid file per error, each with its exact message and exit code, and never a traceback.

The corpus is `tests/data/{ledgers,manifests,answers}/invalid/`; `tests/data/cases.json` holds
what each must produce. Plus bad environment values, and fuzzed loaders.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minitrain import InputError, PreflightError, manifest
from minitrain.cli.budget import main as budget
from minitrain.cli.preflight import main as preflight
from minitrain.ledger import entries, line_format, parser
from minitrain.preflight import checklist, sources
from tests.conftest import REPO

DATA = REPO / "tests" / "data"
CASES = json.loads((DATA / "cases.json").read_text())

pytestmark = pytest.mark.usefixtures("file_mode")


def cases(kind: str) -> list[str]:
    return sorted(name for name in CASES if name.startswith(f"{kind}/"))


def check(capsys: pytest.CaptureFixture[str], code: int, name: str) -> None:
    expected = CASES[name]
    err = capsys.readouterr().err
    assert code == expected["code"], err
    assert expected["message"] in err
    assert "Traceback" not in err


def test_every_corpus_file_has_a_case_and_every_case_a_file() -> None:
    files = {
        str(p.relative_to(DATA)) for p in DATA.glob("*/invalid/*") if "checklists" not in str(p)
    }
    assert files == set(CASES)


@pytest.mark.parametrize("name", cases("ledgers"))
def test_bad_ledgers(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / Path(name).name
    shutil.copy(DATA / name, ledger)
    before = ledger.read_bytes()
    check(capsys, budget(["verify", "--ledger", str(ledger), "--ceiling", "5"]), name)
    assert budget(["authorize", "x", "0.01", "--ledger", str(ledger), "--ceiling", "5"]) == 4
    assert budget(["status", "--ledger", str(ledger), "--ceiling", "5"]) == 4
    assert ledger.read_bytes() == before  # refused, and nothing written


@pytest.mark.parametrize("name", cases("manifests"))
def test_bad_manifests(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    check(capsys, budget(["status", "--manifest", str(DATA / name)]), name)


@pytest.mark.parametrize("name", cases("answers"))
def test_bad_answers(name: str, lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = preflight(
        [
            "run",
            "--label",
            "lab02-tp-spinup",
            "--estimate",
            "3.00",
            "--dry-run",
            "--answers",
            str(DATA / name),
            "--records",
            str(lab / "records"),
        ]
    )
    check(capsys, code, name)
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "LYNX_CLOUD_BUDGET_USD",
            "five",
            "LYNX_CLOUD_BUDGET_USD 'five' is not a number of dollars",
        ),
        ("LYNX_CLOUD_BUDGET_USD", "NaN", "LYNX_CLOUD_BUDGET_USD 'NaN' is not a finite number"),
        ("LYNX_CLOUD_BUDGET_USD", "-2", "LYNX_CLOUD_BUDGET_USD '-2' is negative"),
        ("LYNX_CLOUD_BUDGET_USD", "2.005", "LYNX_CLOUD_BUDGET_USD '2.005' has fractions of a cent"),
        ("LYNX_CLOUD_BUDGET_USD", " ", "LYNX_CLOUD_BUDGET_USD is set but empty"),
        ("BUDGET_GUARD_TEST_MODE", "true", "BUDGET_GUARD_TEST_MODE='true': use 1"),
    ],
)
def test_bad_environment_values(
    variable: str,
    value: str,
    message: str,
    lab: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    assert budget(["status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"budget: error: {message}")
    assert err.count("\n") == 1


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_are_a_ledger_or_a_clean_problem(data: bytes) -> None:
    snapshot = parser.parse(data, location="fuzz")
    if snapshot.problems:
        with pytest.raises(PreflightError):
            snapshot.require_clean()


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_a_checklist_or_a_clean_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(PreflightError):
        checklist.load(path)


YAMLISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "kind",
                "say",
                "type",
                "critical",
                "equals",
                "min",
                "max",
                "when",
                "choices",
                "sense",
                "action",
                "command",
                "default",
                "pattern",
                "unit",
            ]
        ),
        YAMLISH,
        max_size=8,
    )
)
def test_any_step_mapping_is_a_step_or_a_clean_error(
    tmp_path: Path, step: dict[str, object]
) -> None:
    import yaml

    path = tmp_path / "fuzz.yaml"
    gate = {"id": "gate", "kind": "gate", "action": "authorize", "say": "Go?"}
    path.write_text(yaml.safe_dump({"id": "f", "version": 1, "title": "F", "steps": [step, gate]}))
    with contextlib.suppress(PreflightError):
        checklist.load(path)


@FUZZ
@given(st.dictionaries(st.text(max_size=20), YAMLISH, max_size=12))
def test_any_json_object_is_a_manifest_or_a_clean_error(
    tmp_path: Path, data: dict[str, object]
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with contextlib.suppress(PreflightError):
        manifest.load(path)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_an_answers_file_or_a_clean_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = checklist.load(REPO / "checklists" / "pre-flight.yaml")
    with contextlib.suppress(PreflightError):
        sources.load_answers(path, loaded, live=False)


# --- the reproductions: one command line each, its exit code and message ----------------

CAPS = {"02": 3.0, "03": 0.0, "buffer": 2.0}
AMOUNT_HOW = "write dollars with ASCII digits and at most two decimals"


def _lab_manifest(root: Path, caps: dict[str, float] | None = None) -> Path:
    path = root / "experiments" / "35-cloud-budget" / "manifest.json"
    data = json.loads(path.read_text())
    data["ceiling_per_lab"] = caps or CAPS
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("argv", "env", "code", "message"),
    [
        (["authorize", "x", "1e2"], {}, 2, "estimate '1e2' is not a plain decimal (no exponent,"),
        (["authorize", "x", "1_000"], {}, 2, "estimate '1_000' is not a plain decimal"),
        (["authorize", "x", "$ 3"], {}, 2, "estimate '$ 3' is not a plain decimal"),
        (
            ["authorize", "x", "３.００"],
            {},
            2,
            rf"'\uff13.\uff10\uff10' uses digits other than ASCII 0-9; {AMOUNT_HOW}",
        ),
        (["authorize", "x", "٣"], {}, 2, r"estimate '\u0663' uses digits other than ASCII 0-9"),
        (
            ["authorize", "x", "१२"],
            {},
            2,
            r"estimate '\u0967\u0968' uses digits other than ASCII 0-9",
        ),
        (["authorize", "x", "1e26"], {}, 2, "estimate '1e26' is not a plain decimal"),
        (["authorize", "x", "100000.01"], {}, 2, "is over the largest amount this tool takes"),
        (["authorize", "x", "1", "--ceiling", "1e26"], {}, 2, "--ceiling '1e26' is not a plain"),
        (["status"], {"LYNX_CLOUD_BUDGET_USD": "1e26"}, 2, "LYNX_CLOUD_BUDGET_USD '1e26' is not"),
        (
            ["status"],
            {"LYNX_CLOUD_BUDGET_USD": "50"},
            2,
            "LYNX_CLOUD_BUDGET_USD=50 would raise the ceiling above $5.00 (manifest",
        ),
        (
            ["status"],
            {"LYNX_CLOUD_BUDGET_USD": "5.01"},
            2,
            "it may only lower it. A ceiling is raised by editing the manifest's ceiling_usd in a"
            " reviewed commit",
        ),
        (
            ["authorize", "lab٠٣-train", "0.10"],
            {},
            2,
            r"operation label 'lab\u0660\u0663-train' holds \u0660 (ARABIC-INDIC DIGIT ZERO),"
            " which is not ASCII; a label is 1-120 ASCII letters",
        ),
        (["authorize", "lab０２-x", "0.10"], {}, 2, "(FULLWIDTH DIGIT ZERO), which is not ASCII"),
        (["authorize", "Lab03-train", "0.10"], {}, 3, "would exceed the lab 03 cap $0.00"),
        (["authorize", "lab03-x", "0.10", "--lab", "3"], {}, 3, "would exceed the lab 03 cap"),
        (["authorize", "lab3-x", "0.10"], {}, 3, "would exceed the lab 03 cap"),
        (
            ["authorize", "lab03-x", "0.10", "--lab", "2"],
            {},
            2,
            "--lab 2 disagrees with the label 'lab03-x', which is lab 03; drop --lab",
        ),
        (
            ["authorize", "x", "0.10", "--lab", "٠٣"],
            {},
            2,
            r"--lab '\u0660\u0663' is not a lab number",
        ),
        (["authorize", "x", "0.10", "--lab", "buffer"], {}, 2, "--lab 'buffer' is not a lab"),
    ],
)
def test_bad_command_lines(
    argv: list[str],
    env: dict[str, str],
    code: int,
    message: str,
    lab: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _lab_manifest(lab)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert budget(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


def test_preflight_estimate_of_1e26_is_one_line(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = preflight(
        ["run", "--label", "lab02-x", "--estimate", "1e26", "--dry-run", "--answers", "a.yaml"]
    )
    assert code == 2
    assert "--estimate '1e26' is not a plain decimal" in capsys.readouterr().err


def test_an_environment_ceiling_may_lower_the_manifest_s(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", "1.00")
    assert budget(["authorize", "x", "1.01"]) == 3
    assert "would exceed the ceiling $1.00" in capsys.readouterr().err


def test_minus_zero_is_stored_as_zero(lab: Path) -> None:
    assert budget(["authorize", "x", "-0"]) == 0
    line = json.loads((lab / "experiments/35-cloud-budget/spend.jsonl").read_text())
    assert line["estimated"] == "0.00"


def test_preflight_and_budget_write_the_same_lab(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from minitrain import BudgetGuard

    _lab_manifest(lab, {"02": 1.0, "07": 2.0, "buffer": 2.0})
    asked: list[str | None] = []
    monkeypatch.setattr(
        BudgetGuard, "would_authorize", lambda self, label, est, *, lab=None: asked.append(lab)
    )
    answers = lab / "buffer.yaml"  # lab 07's alert: 80% of $2.00
    ci = (lab / "checklists/answers/ci.yaml").read_text()
    answers.write_text(ci.replace("budget-alert: 2.40", "budget-alert: 1.60"))
    dry = ["run", "--label", "tp-spinup", "--estimate", "0.10", "--lab", "7", "--dry-run"]
    assert preflight([*dry, "--answers", str(answers)]) == 0
    assert budget(["authorize", "tp-spinup", "0.10", "--lab", "7"]) == 0
    line = json.loads((lab / "experiments/35-cloud-budget/spend.jsonl").read_text())
    # the pre-check before step 1 and the dry-run gate both ask, with the lab budget wrote
    assert asked
    assert set(asked) == {line["lab"]} == {"07"}
    capsys.readouterr()
    dry[2], dry[6] = "lab03-x", "2"
    assert preflight([*dry, "--answers", str(answers)]) == 2
    assert "--lab 2 disagrees with the label 'lab03-x', which is lab 03" in capsys.readouterr().err


@FUZZ
@given(st.text(max_size=30))
def test_any_text_is_a_plain_amount_or_a_clean_error(text: str) -> None:
    from minitrain.money import MAX_USD, parse_usd

    try:
        amount = parse_usd(text)
    except InputError:
        return
    assert amount.as_tuple().exponent == -2
    assert Decimal(0) <= amount <= MAX_USD
    assert not amount.is_signed()
    assert text.strip().lstrip("-$").replace(".", "", 1).isascii()


@FUZZ
@given(st.text(max_size=20), st.none() | st.text(max_size=5))
def test_any_label_and_lab_resolve_to_an_ascii_lab_or_a_clean_error(
    label: str, lab: str | None
) -> None:
    from minitrain import labs

    try:
        resolved = labs.resolve(label, lab)
    except InputError:
        return
    number = resolved.number
    assert number is None or (number.isascii() and number.isdigit() and len(number) >= 2)


@FUZZ
@given(st.text(alphabet=st.characters(), max_size=8) | st.from_regex(r"\s*[0-9]{1,7}\s*"))
def test_a_lab_number_is_one_to_six_ascii_digits_and_nothing_else(text: str) -> None:
    """The rule a lab number is checked by (the regex it was written as is the oracle): any
    other digits (superscripts, Arabic-Indic, fullwidth) or a seventh digit is an error."""
    import re

    from minitrain import labs

    stripped = text.strip()
    if re.fullmatch(r"[0-9]{1,6}", stripped, re.ASCII):
        assert labs.normalise(text) == f"{int(stripped):02d}"
    else:
        with pytest.raises(InputError, match="is not a lab number"):
            labs.normalise(text)


def test_a_fifo_manifest_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "manifest.json"
    os.mkfifo(fifo)
    assert budget(["status", "--manifest", str(fifo)]) == 2
    assert "manifest.json: not a regular file" in capsys.readouterr().err


# --- issue 21, "A lab is what it looks like": a new label is plain ASCII, its lab one the
# manifest names ------------------------------------------------------------------------------

LABEL_HOW = "a label is 1-120 ASCII letters, digits, '-', '_' or '.', starting with a letter"


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("lab\u034f03-train", r"'lab\u034f03-train'"),  # combining grapheme joiner
        ("lab\ufe0f03-train", r"'lab\ufe0f03-train'"),  # variation selector
        ("l\u0430b03-train", r"'l\u0430b03-train'"),  # Cyrillic a
        ("lab0\u034f3-train", r"'lab0\u034f3-train'"),  # was stored as lab 00
        ("lab\u0663-train", r"'lab\u0663-train'"),  # Arabic-Indic digit three
        ("tp spinup", "'tp spinup'"),
        ("2.47", "'2.47'"),  # `budget record 2.47` can never be a label
        ("_x", "'_x'"),
        ("x/y", "'x/y'"),
        (" x", "' x'"),
    ],
)
def test_a_new_label_is_plain_ascii_starting_with_a_letter(
    label: str,
    shown: str,
    lab: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _lab_manifest(lab)
    assert budget(["authorize", label, "0.50"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"budget: error: operation label {shown} ")
    assert LABEL_HOW in err
    assert err.count("\n") == 1
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


def test_look_alike_labels_never_reach_the_buffer_through_the_api(tmp_path: Path) -> None:
    """The issue's reproduction: four $0.50 went through while lab 03's cap is $0.00."""
    from minitrain import BudgetGuard

    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, ledger, lab_caps=CAPS)
    for label in ("lab\u034f03-train", "lab\ufe0f03-train", "l\u0430b03-train", "lab0\u034f3-x"):
        with pytest.raises(InputError, match="ASCII"):
            guard.authorize(label, "0.50")
        with pytest.raises(InputError, match="ASCII"):
            guard.would_authorize(label, "0.50")
    assert not ledger.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["authorize", "x", "0.10", "--lab", "99"],
            "--lab 99 names lab 99, which the manifest does not cap (it caps labs 02 and 03);"
            " give one of those, or leave --lab out to draw on the buffer",
        ),
        (
            ["authorize", "lab99-x", "0.10"],
            "operation label 'lab99-x' names lab 99, which the manifest does not cap (it caps"
            " labs 02 and 03); start it with one of those (lab02-...), or without a labNN prefix"
            " to draw on the buffer",
        ),
        (
            ["authorize", "lab-02-x", "0.10"],
            "operation label 'lab-02-x' looks like lab 02 but a lab is named by a labNN prefix;"
            " write it as lab02-x",
        ),
        (["authorize", "lab_3.x", "0.10"], "write it as lab03.x"),
        (
            ["authorize", "labO3-train", "0.10"],
            "operation label 'labO3-train' looks like lab 03 written with the letter O;"
            " write it as lab03-train",
        ),
        (["authorize", "lab0O3-train", "0.10"], "write it as lab03-train"),
        (
            ["authorize", "lab03train", "0.10"],
            "operation label 'lab03train' runs its lab number into the name;"
            " write it as lab03-train",
        ),
    ],
)
def test_a_lab_the_manifest_does_not_name_is_refused(
    argv: list[str], message: str, lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lab_manifest(lab)
    assert budget(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


def test_a_lab_the_manifest_does_not_name_is_refused_through_the_api(tmp_path: Path) -> None:
    from minitrain import BudgetGuard

    guard = BudgetGuard(5, tmp_path / "spend.jsonl", lab_caps=CAPS)
    with pytest.raises(InputError, match="names lab 99, which the manifest does not cap"):
        guard.authorize("x", "0.10", lab="99")
    with pytest.raises(InputError, match="names lab 04, which the manifest does not cap"):
        guard.would_authorize("lab04-x", "0.10")
    guard.authorize("x", "0.10")  # no lab: the buffer, deliberately
    guard.authorize("lab02-x", "0.10")
    uncapped = BudgetGuard(5, tmp_path / "other.jsonl")  # no caps: any lab is only a name
    uncapped.authorize("lab99-x", "0.10")


def test_old_lines_with_any_label_are_still_read(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ledger written before the rule keeps counting: its odd labels are read, not refused."""
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    old = [
        entries.new_entry("authorize", label, estimated=Decimal("0.50"), lab=lab_)
        for label, lab_ in (("lab\u034f03-train", None), ("lab0\u034f3-x", "00"), ("2.47", None))
    ]
    ledger.write_bytes(b"".join(line_format.encode(e) for e in old))
    assert budget(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spent"] == "1.50"
    assert budget(["verify"]) == 0


def test_preflight_refuses_a_look_alike_label_before_the_first_question(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lab_manifest(lab)
    dry = ["run", "--label", "lab\u034f03-train", "--estimate", "0.10", "--dry-run"]
    assert preflight([*dry, "--answers", str(lab / "checklists/answers/ci.yaml")]) == 2
    assert LABEL_HOW in capsys.readouterr().err
    assert (
        preflight(
            [
                "run",
                "--label",
                "lab-x",
                "--estimate",
                "0.1",
                "--lab",
                "99",
                "--dry-run",
                "--answers",
                str(lab / "checklists/answers/ci.yaml"),
            ]
        )
        == 2
    )
    assert "--lab 99 names lab 99, which the manifest does not cap" in capsys.readouterr().err


# --- issue 21, "No crash, no hang": a long value costs no more than a short one, and never comes
# back whole. Each runs in a child with a generous timeout: a quadratic scan (38 s at 131k
# characters, unfinished at 1,000,000) shows as a timeout, not as a slow suite. -----------------

ARG_MAX = 131_000  # Linux takes one argument of at most 128 KiB (MAX_ARG_STRLEN)
LONG_CHILD = """
import sys
from minitrain import BudgetGuard, InputError
guard = BudgetGuard(5, sys.argv[1])
text = sys.stdin.read()
for label, amount, lab in ((text, "0.10", None), ("x", text, None), ("x", "0.10", text)):
    try:
        guard.authorize(label, amount, lab=lab)
    except InputError as exc:
        print(len(str(exc)))
    else:
        raise SystemExit("authorized")
"""


def _child(
    argv: list[str], env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,  # generous: each is refused in well under a second when linear
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "text",
    ["a" * 1_000_000, "a:" * 500_000, "x://" * 250_000, "rpa_" * 250_000],
    ids=["letters", "colons", "schemes", "key-prefixes"],
)
def test_a_megabyte_label_amount_or_lab_is_refused_at_once_through_the_api(
    text: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "spend.jsonl"
    child = _child(["-c", LONG_CHILD, str(ledger)], stdin=text)
    assert child.returncode == 0, child.stderr[-2000:]
    assert all(int(n) < 400 for n in child.stdout.split()), child.stdout
    assert not ledger.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["authorize", "a" * ARG_MAX, "0.10"],
        ["authorize", "x", "9" * ARG_MAX],
        ["authorize", "x", "a:" * (ARG_MAX // 2)],
        ["authorize", "x", "0.10", "--lab", "a" * ARG_MAX],
        ["record", "x", "0.10", "--op-id", "a" * ARG_MAX],
        ["record", "x", "0.10", "--op-id", "x://" * (ARG_MAX // 4)],
    ],
    ids=["label", "amount", "amount-colons", "lab", "op-id", "op-id-schemes"],
)
def test_a_long_command_line_value_is_refused_at_once_in_one_short_line(
    argv: list[str], tmp_path: Path
) -> None:
    ledger = tmp_path / "spend.jsonl"
    child = _child(["-m", "minitrain", "budget", *argv, "--ledger", str(ledger), "--ceiling", "5"])
    assert child.returncode == 2, child.stderr[-2000:]
    assert child.stderr.count("\n") == 1
    assert len(child.stderr) < 400, child.stderr[:400]
    assert not ledger.exists()


def test_a_long_environment_ceiling_is_refused_at_once(tmp_path: Path) -> None:
    child = _child(
        ["-m", "minitrain", "budget", "status", "--ledger", str(tmp_path / "spend.jsonl")],
        {"LYNX_CLOUD_BUDGET_USD": "a:" * (ARG_MAX // 2)},
    )
    assert child.returncode == 2, child.stderr[-2000:]
    assert len(child.stderr) < 400, child.stderr[:400]


def test_a_refused_value_is_echoed_as_a_short_escaped_prefix() -> None:
    from minitrain._secrets import shown

    assert shown("lab\u034f03") == r"'lab\u034f03'"
    assert shown("b" * 1000) == f"'{'b' * 40}'... (1,000 characters)"
    assert shown("x-rpa_ABCDEF0123456789ABCDEF0123" + "b" * 100) == (
        "(not shown: it holds a RunPod API key (rpa_...))"
    )
