"""`budget` as a person uses it: exact lines on stdout/stderr and the documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minitrain.cli.budget import main

pytestmark = pytest.mark.usefixtures("file_mode")
LEDGER = ["--ledger", "spend.jsonl", "--ceiling", "5.00"]


def test_the_seed_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["authorize", "lab02-tp-spinup", "3.00", *LEDGER]) == 0
    assert capsys.readouterr().out == "authorized lab02-tp-spinup $3.00; remaining $2.00 of $5.00\n"
    assert main(["authorize", "hypothetical-lab", "10.00", *LEDGER]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "budget: error: refused 'hypothetical-lab': estimate $10.00 + spent $3.00 = $13.00"
        " would exceed the ceiling $5.00 (remaining $2.00)\n"
    )


def test_status_tells_the_truth(capsys: pytest.CaptureFixture[str]) -> None:
    main(["authorize", "lab02-tp-spinup", "3.00", *LEDGER])
    main(["authorize", "setup", "0.50", *LEDGER])
    main(["record", "setup", "0.20", *LEDGER])
    capsys.readouterr()
    assert main(["status", *LEDGER]) == 0
    out = capsys.readouterr().out
    assert "ceiling    $5.00  (from --ceiling)" in out
    assert "spent      $3.20  (of which $3.00 reserved by 1 open authorization(s))" in out
    assert "remaining  $1.80" in out
    assert "(open authorizations only; `budget status --all` lists every operation)" in out
    assert main(["status", "--json", *LEDGER]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["spent"], data["reserved"], data["remaining"]) == ("3.20", "3.00", "1.80")
    assert [op["label"] for op in data["operations"]] == ["lab02-tp-spinup"]
    assert main(["status", "--json", "--all", *LEDGER]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(op["label"], op["open"]) for op in data["operations"]] == [
        ("lab02-tp-spinup", True),
        ("setup", False),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["authorize", "x", "abc", *LEDGER],
            "budget: error: estimate 'abc' is not a number of dollars",
        ),
        (["authorize", "x", "-1", *LEDGER], "budget: error: estimate '-1' is negative"),
        (
            ["record", "x", "nan", *LEDGER],
            "budget: error: actual 'nan' is not a finite number of dollars",
        ),
        (
            ["status", "--ledger", "spend.jsonl", "--ceiling", "x"],
            "budget: error: --ceiling 'x' is not a number of dollars",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(message)
    assert len(err.splitlines()) == 1
    assert not Path("spend.jsonl").exists()


def test_no_ceiling_anywhere_says_where_to_put_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--ledger", "spend.jsonl"]) == 2
    assert "pass --ceiling USD, or set LYNX_CLOUD_BUDGET_USD" in capsys.readouterr().err


def test_env_ceiling_wins_and_status_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", "1.00")
    assert main(["status", *LEDGER]) == 0
    assert "ceiling    $1.00  (from LYNX_CLOUD_BUDGET_USD)" in capsys.readouterr().out


def test_a_record_with_no_reservation_is_refused_unless_unplanned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 21: a typo in the label must not count the money twice."""
    assert main(["authorize", "lab02-tp-spinup", "1.00", *LEDGER]) == 0
    capsys.readouterr()
    assert main(["record", "lab02-tp-spinpu", "0.80", *LEDGER]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        "budget: error: no open reservation of 'lab02-tp-spinpu'"
        " (the open ones are: lab02-tp-spinup);"
    )
    assert main(["record", "--unplanned", "forgot", "0.40", *LEDGER]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("recorded forgot actual $0.40; spent $1.40, remaining $3.60\n")
    assert "no open reservation" not in err


def test_authorize_json_names_the_op_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "authorize", "lab02-x", "1.00", *LEDGER]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["authorized"] == "lab02-x"
    assert len(said["op_id"]) == 32
    assert main(["record", "lab02-x", "0.50", "--op-id", said["op_id"], *LEDGER]) == 0


def test_torn_ledger_verify_repair_verify(capsys: pytest.CaptureFixture[str]) -> None:
    main(["authorize", "a", "1.00", *LEDGER])
    with Path("spend.jsonl").open("ab") as f:
        f.write(b'{"id":"x","ts":"2026')
    capsys.readouterr()
    assert main(["authorize", "b", "1.00", *LEDGER]) == 4
    assert "spend.jsonl:2: torn last line" in capsys.readouterr().err
    assert main(["verify", *LEDGER]) == 4
    assert main(["repair", *LEDGER]) == 0
    assert "voided line 2" in capsys.readouterr().out
    assert main(["verify", *LEDGER]) == 0
    assert capsys.readouterr().out == "ok: 3 lines, 1 operations, spent $1.00 of $5.00\n"


def test_verify_is_loud_when_a_merge_went_over_the_ceiling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["authorize", "a", "4.00", *LEDGER])
    assert main(["verify", "--ledger", "spend.jsonl", "--ceiling", "3.00"]) == 3
    assert "OVER THE CEILING: spent $4.00 of $3.00" in capsys.readouterr().err


def test_repair_line_needs_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["repair", "--line", "1", *LEDGER]) == 2
    assert "--line needs --reason" in capsys.readouterr().err


def test_an_unexpected_error_is_a_line_and_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from minitrain import budget_guard

    monkeypatch.setattr(budget_guard.BudgetGuard, "status", lambda self: 1 / 0)
    assert main(["status", *LEDGER]) == 70
    err = capsys.readouterr().err
    assert err.startswith("budget: internal error: ZeroDivisionError")
    assert "Traceback" not in err


def test_budget_does_not_import_the_prompt_library() -> None:
    code = (
        "import sys; from minitrain.cli.budget import main;"
        "sys.argv=['budget','--help']\n"
        "try: main(['status','--ceiling','1','--ledger','x.jsonl'])\n"
        "finally: print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('questionary','prompt_toolkit','yaml')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_budget() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minitrain", "budget", "status", *LEDGER],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "remaining  $5.00" in done.stdout


def test_a_cap_changed_in_the_manifest_is_enforced_with_no_other_edit(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["authorize", "lab02-tp-spinup", "1.50", "--json"]) == 0
    path = lab / "experiments/35-cloud-budget/manifest.json"
    data = json.loads(path.read_text())
    data["ceiling_per_lab"] = {"02": 1.50, "03": 0.00, "buffer": 3.50}
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["authorize", "lab02-retry", "0.01"]) == 3
    assert "would exceed the lab 02 cap $1.50" in capsys.readouterr().err
    assert main(["authorize", "lab03-reading", "0.01"]) == 3
    assert "lab 03 cap $0.00" in capsys.readouterr().err


def test_a_broken_manifest_is_bad_input_naming_the_field(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = lab / "experiments/35-cloud-budget/manifest.json"
    path.write_text(path.read_text().replace('"USD"', '"EUR"'))
    assert main(["status"]) == 2
    assert "field 'currency' is 'EUR'" in capsys.readouterr().err


@pytest.mark.parametrize("tool", ["budget", "preflight"])
def test_help_lists_every_command(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    from minitrain.cli import main as dispatch

    with pytest.raises(SystemExit) as done:
        dispatch([tool, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    commands = {
        "budget": [
            "status",
            "authorize",
            "record",
            "report",
            "launch",
            "watch",
            "db",
            "export",
            "import",
            "verify",
            "repair",
        ],
        "preflight": ["run", "lint", "render", "hardware", "schema"],
    }[tool]
    assert all(f"    {name} " in out or f"    {name}\n" in out for name in commands), out


def test_an_unusable_ledger_folder_is_a_ledger_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    ledger = tmp_path / "a-file" / "spend.jsonl"
    assert main(["authorize", "x", "1.00", "--ledger", str(ledger), "--ceiling", "5"]) == 4
    err = capsys.readouterr().err
    assert f"{ledger}: cannot use the ledger: Not a directory" in err
    assert "Traceback" not in err
