"""The commands start fast: `budget status` and a scripted `preflight run --dry-run` import only
what they need, and a dry run saves its record once at the start and once at the end.

Start-up time itself is measured by `benchmarks/bench.py`, not here (no timed assertions): these
tests fail when a heavy module creeps back onto the path, which is how start-up time is lost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from minitrain import run_folder
from minitrain.cli.preflight import main as preflight_main

pytestmark = pytest.mark.usefixtures("file_mode")

# What `budget status` must not import (issue 20): imports are the start-up regression that
# matters, not milliseconds (those are measured by benchmarks/bench.py). The prompt library, the
# checklists' YAML, the database driver, the chart, the typed decoder of long reads, and the
# project's own modules that only other commands need.
NOT_FOR_STATUS = [
    "asyncio",
    "dataclasses",  # with inspect, ast and dis: minitrain._struct serves (~20 ms, see there)
    "email",
    "http",
    "importlib.metadata",  # only for --version
    "inspect",
    "matplotlib",
    "minitrain._commands",
    "minitrain.cost",
    "minitrain.hardware",
    "minitrain.launch",
    "minitrain.ledger.admin",
    "minitrain.ledger.audit",
    "minitrain.ledger.postgres",
    "minitrain.preflight",
    "minitrain.report",
    "minitrain.runs",
    "minitrain.vendors",
    "minitrain.watch",
    "msgspec",  # the typed decoder, only for long reads
    "prompt_toolkit",
    "psycopg",
    "questionary",
    "socket",
    "subprocess",
    "yaml",
]
# No hashing either, but over a checkpoint: it is trusted only once its MAC (`hmac`, which
# imports `hashlib`) checks out. A ledger too small to be checkpointed is never hashed.
NOT_FOR_A_SMALL_STATUS = [*NOT_FOR_STATUS, "hashlib", "hmac"]
# A scripted run asks no person: the prompt library stays out of it.
NOT_FOR_A_SCRIPTED_RUN = ["prompt_toolkit", "questionary", "minitrain.preflight.prompts"]
# What the dry run's value types no longer need (minitrain._struct replaced `dataclasses`, which
# imports `inspect` and with it `ast`, `dis` and `tokenize`), and the prompt library.
NOT_FOR_A_DRY_RUN = [
    "ast",
    "dataclasses",
    "dis",
    "inspect",
    "prompt_toolkit",
    "questionary",
    "tokenize",
]

LOADED = """
import json, sys
from minitrain.cli.{tool} import main
code = main({argv!r})
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def loaded_by(tool: str, argv: list[str], cwd: Path) -> set[str]:
    """The modules a fresh interpreter holds after running ``tool argv`` (as the console script
    does: it imports the tool's ``main`` and calls it)."""
    env = {k: v for k, v in os.environ.items() if k != "BUDGET_GUARD_TEST_MODE"}
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(tool=tool, argv=argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["modules"])


def test_budget_status_imports_no_heavy_module(tmp_path: Path) -> None:
    argv = ["--ledger", "spend.jsonl", "--ceiling", "5.00", "status"]
    loaded = loaded_by("budget", argv, tmp_path)
    assert "minitrain.budget_guard" in loaded  # it did read the ledger
    assert sorted(loaded & set(NOT_FOR_A_SMALL_STATUS)) == []


def test_a_bad_command_line_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse reads every command line; what it refuses goes through the one error handler."""
    from minitrain.cli.budget import main

    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("budget: error: argument COMMAND: invalid choice: 'no-such-command'")
    assert err.count("\n") == 1
    assert main(["authorize", "lab02-x"]) == 2
    assert "the following arguments are required: usd" in capsys.readouterr().err


def test_with_json_a_bad_command_line_is_a_json_error(capsys: pytest.CaptureFixture[str]) -> None:
    from minitrain.cli.budget import main

    assert main(["--json", "stauts"]) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["exit_code"] == 2
    assert "invalid choice: 'stauts'" in error["message"]
    assert main(["status", "--json", "--ceiling", "-x"]) == 2
    assert json.loads(capsys.readouterr().err)["error"] == "error"


def test_a_json_after_the_vendor_command_is_the_vendor_s(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from minitrain.cli._handler import wants_json

    assert wants_json(["status", "--json"])
    assert not wants_json(["launch", "--label", "x", "--", "vastai", "show", "--json"])


def test_every_option_has_help_and_every_command_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from minitrain.cli import budget, preflight

    for tool in (budget, preflight):
        for name in tool._COMMANDS:
            with pytest.raises(SystemExit):
                tool.main([name, "--help"])
            out = capsys.readouterr().out
            assert f"\nexample: {tool.__name__[14:]} " in out, f"{name} --help has no example"
        for name, (_, add_arguments, _) in tool._COMMANDS.items():
            add_arguments(Recorder())
            for args, help_line in Recorder.added:
                assert help_line, f"{tool.__name__} {name} {args} has no help line"


class Recorder(argparse.ArgumentParser):
    """Records each argument a command adds, with its help line."""

    added: ClassVar[list[tuple[tuple[str, ...], str | None]]] = []

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        Recorder.added.append((args, kwargs.get("help")))
        return super().add_argument(*args, **kwargs)


def test_status_of_an_empty_ledger_from_the_manifest_imports_no_heavy_module(lab: Path) -> None:
    """What a person runs first: `budget status` in the repository, every setting from the
    manifest (found by walking up from the working directory, then checked)."""
    loaded = loaded_by("budget", ["status"], lab)
    assert "minitrain.manifest" in loaded
    assert sorted(loaded & set(NOT_FOR_A_SMALL_STATUS)) == []


def test_status_of_a_ledger_too_small_for_a_checkpoint_hashes_nothing(lab: Path) -> None:
    """The lab's own ledgers (tens of lines, far below the checkpoint's 64 KiB): status parses
    every line (their times need `datetime`) and hashes none, as no checkpoint will be saved."""
    from minitrain import BudgetGuard

    ledger = lab / "experiments" / "35-cloud-budget" / "spend.jsonl"
    guard = BudgetGuard(5, ledger)
    guard.authorize("lab02-op", "1.00")
    guard.record_actual("lab02-op", "0.25")
    guard.authorize("lab02-open", "0.50")
    assert not ledger.with_name("spend.jsonl.checkpoint").exists()
    loaded = loaded_by("budget", ["status"], lab)
    assert "_datetime" in loaded  # it did parse the lines: the C types, not the module
    assert "zlib" in loaded  # and checked their CRCs
    assert sorted(loaded & set(NOT_FOR_A_SMALL_STATUS)) == []


def test_an_authorization_loads_nothing_of_the_other_commands(tmp_path: Path) -> None:
    """What each of many writers loads: nothing of the other commands. It does load OpenSSL
    (`hmac`): the high-water mark that follows every write is signed (issue 21: a shrunk
    ledger never lowers the books; ledger/mark.py)."""
    argv = ["--ledger", "spend.jsonl", "--ceiling", "5.00", "authorize", "lab02-op", "0.50"]
    loaded = loaded_by("budget", argv, tmp_path)
    assert "minitrain.ledger.jsonl" in loaded  # it did write
    assert "hmac" in loaded  # it signed the mark
    assert sorted(loaded & (set(NOT_FOR_A_SMALL_STATUS) - {"hashlib", "hmac"})) == []


def test_status_of_a_ledger_its_checkpoint_covers_parses_no_line(
    lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint that covers every line stands in for them: status checks its MAC and parses
    nothing, so no line's time is read (`datetime` stays out; every operation here is closed,
    as an open one is listed with its time)."""
    from minitrain import BudgetGuard
    from minitrain.ledger import checkpoint

    ledger = lab / "experiments" / "35-cloud-budget" / "spend.jsonl"
    monkeypatch.setattr(checkpoint, "EVERY", 1)  # small: save after every line, not every 64 KiB
    guard = BudgetGuard(5, ledger)
    for n in range(3):
        guard.authorize(f"lab02-op{n}", "1.00")
        guard.record_actual(f"lab02-op{n}", "0.25")
    saved = json.loads(ledger.with_name("spend.jsonl.checkpoint").read_text())
    assert saved["body"]["size"] == ledger.stat().st_size  # it covers every line
    loaded = loaded_by("budget", ["status"], lab)
    assert "hmac" in loaded  # the checkpoint was read (and its MAC checked)
    assert sorted(loaded & set(NOT_FOR_STATUS)) == []


def test_the_checkpoint_of_a_replaced_ledger_is_refused_before_its_mac_is_checked(
    lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `git pull` or `cp` (a new inode), the old checkpoint names another file: it is
    refused on that claim alone (refusing only costs a full read), so no OpenSSL is loaded to
    check its MAC; the status is the one every line gives."""
    from minitrain import BudgetGuard
    from minitrain.ledger import checkpoint

    ledger = lab / "experiments" / "35-cloud-budget" / "spend.jsonl"
    monkeypatch.setattr(checkpoint, "EVERY", 1)
    guard = BudgetGuard(5, ledger)
    guard.authorize("lab02-op", "1.00")
    guard.record_actual("lab02-op", "0.25")
    assert ledger.with_name("spend.jsonl.checkpoint").exists()
    copy = ledger.with_name("copy.jsonl")
    copy.write_bytes(ledger.read_bytes())
    copy.replace(ledger)  # a new inode, as git leaves it
    loaded = loaded_by("budget", ["status"], lab)
    assert "minitrain.ledger.checkpoint" in loaded
    assert sorted(loaded & {"hashlib", "hmac"}) == []
    assert BudgetGuard(5, ledger).total_spent == Decimal("0.25")


def test_a_scripted_dry_run_imports_no_prompt_library(lab: Path) -> None:
    argv = ["run", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--dry-run"]
    loaded = loaded_by("preflight", [*argv, "--answers", "checklists/answers/ci.yaml"], lab)
    assert "minitrain.preflight.session" in loaded
    assert not loaded & set(NOT_FOR_A_SCRIPTED_RUN)


def test_a_scripted_dry_run_imports_no_dataclass_machinery(lab: Path) -> None:
    argv = ["run", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--dry-run"]
    loaded = loaded_by("preflight", [*argv, "--answers", "checklists/answers/ci.yaml"], lab)
    assert "minitrain.preflight.gate" in loaded  # it did walk the checklist to the gate
    assert sorted(loaded & set(NOT_FOR_A_DRY_RUN)) == []


def test_the_package_still_exports_its_names_when_asked() -> None:
    import minitrain
    from minitrain import budget_guard, errors

    for name in minitrain.__all__:
        home = budget_guard if hasattr(budget_guard, name) else errors
        assert getattr(minitrain, name) is getattr(home, name)
    assert set(minitrain.__all__) <= set(dir(minitrain))
    with pytest.raises(AttributeError):
        minitrain.NoSuchName  # noqa: B018


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Help and a wrong command show every command."""
    from minitrain.cli import budget

    with pytest.raises(SystemExit):
        budget.main(["--help"])
    out = capsys.readouterr().out
    for name in ("status", "authorize", "record", "report", "launch", "watch", "repair"):
        assert f"    {name} " in out
    with pytest.raises(SystemExit):
        budget.main(["--json", "-h", "status"])  # -h before the command: the top-level help
    assert "    repair " in capsys.readouterr().out
    assert budget.main(["--ledger", "status", "stauts"]) == 2  # a ledger named like a command
    assert "invalid choice: 'stauts' (choose from 'status', 'authorize'" in capsys.readouterr().err


@pytest.mark.parametrize("given", [["--ledger", "report"], ["--led", "report"], ["--ledger=x"]])
def test_a_value_named_like_a_command_is_not_taken_for_it(
    given: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minitrain.cli import budget

    monkeypatch.chdir(tmp_path)
    assert budget.main([*given, "--ceiling", "5.00", "status"]) == 0


def test_a_dry_run_saves_its_record_once(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run writes no ledger and is never resumed: the per-step saves (each an fsync) that
    let a live run resume are not needed. A live run still saves after every step
    (test_preflight_terminal.py::test_resume_after_a_kill_asks_the_last_step_again_and_authorizes
    and preflight/test_gate_kills.py kill it and rerun)."""
    saved: list[dict[str, object]] = []
    write = run_folder.write

    def counted(path: Path, data: dict[str, object], *, secret: bool = False) -> None:
        saved.append(json.loads(json.dumps(data)))
        write(path, data, secret=secret)

    monkeypatch.setattr(run_folder, "write", counted)
    argv = ["run", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--dry-run"]
    assert preflight_main([*argv, "--answers", "checklists/answers/ci.yaml"]) == 0
    assert [(s["status"], len(s["steps"])) for s in saved] == [("would-authorize", 8)]
    record = Path(capsys.readouterr().out.rsplit("record: ", 1)[1].splitlines()[0])
    assert json.loads(record.read_text()) == saved[-1]  # every step is in the file


def test_a_live_run_still_saves_its_record_after_every_step(
    lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What resume and the kill tests rely on: each answer is on disk before the next question."""
    from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go

    saved: list[int] = []
    write = run_folder.write

    def counted(path: Path, data: dict[str, object], *, secret: bool = False) -> None:
        saved.append(len(data["steps"]))  # type: ignore[arg-type]
        write(path, data, secret=secret)

    monkeypatch.setattr(run_folder, "write", counted)
    go(lab, FakePerson(CI_ANSWERS))
    assert saved[:9] == list(range(9))  # started, then once per step as it passed
