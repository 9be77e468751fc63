"""`budget init` sets the tool up in any git repository, and the commands then find its folder
from any folder inside it (issue 25, "a home in any repository")."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import init, manifest
from minitrain.cli.budget import main as budget
from minitrain.errors import InputError, Interrupted
from tests.conftest import REPO


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository (made by git where it is installed), the shell in a subfolder."""
    root = tmp_path / "project"
    root.mkdir()
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    else:  # what the commands look for: a `.git` at the root
        (root / ".git").mkdir()
    (root / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "src" / "deep")
    return root


@pytest.mark.usefixtures("file_mode")
def test_a_ceiling_from_a_subfolder_writes_the_repository_s_ledger_not_the_shell_s(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue: `--ceiling 5` silently created experiments/35-cloud-budget/spend.jsonl under
    whatever folder the shell was in, so a `cd` gave a fresh budget."""
    assert budget(["--ceiling", "5", "authorize", "lab01-x", "1.00"]) == 0
    assert (repo / "budget" / "spend.jsonl").is_file()
    assert not (repo / "src" / "deep" / "experiments").exists()
    capsys.readouterr()
    assert budget(["--ceiling", "5", "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["remaining"] == "4.00"


@pytest.mark.usefixtures("file_mode")
def test_outside_any_repository_with_no_ledger_it_says_how_to_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert budget(["--ceiling", "5", "authorize", "lab01-x", "1.00"]) == 2
    err = capsys.readouterr().err
    assert "no budget here" in err
    assert "run `budget init --ceiling USD` inside your repository, or pass --ledger PATH" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]  # nothing written


@pytest.mark.usefixtures("file_mode")
def test_init_then_every_command_works_from_a_subfolder(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert budget(["init", "--ceiling", "5.00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"set up budget/ in {repo}: manifest.json (ceiling $5.00; no lab caps;")
    assert "next: git add budget .gitattributes .gitignore" in out
    data = json.loads((repo / "budget" / "manifest.json").read_text())
    assert data == {"currency": "USD", "ceiling_usd": 5.0, "spend_log_path": "budget/spend.jsonl"}
    assert (repo / "budget" / "manifest.json").read_text().count('"ceiling_usd": 5.00,') == 1
    assert (repo / "budget" / "spend.jsonl").read_bytes() == b""
    assert "budget/spend.jsonl merge=union" in (repo / ".gitattributes").read_text()
    assert "*.jsonl.lock" in (repo / ".gitignore").read_text().splitlines()

    assert budget(["authorize", "lab01-x", "1.00"]) == 0
    assert capsys.readouterr().out == "authorized lab01-x $1.00; remaining $4.00 of $5.00\n"
    assert budget(["--json", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["ceiling"], status["remaining"]) == ("5.00", "4.00")
    assert "manifest" in status["ceiling_source"]


@pytest.mark.usefixtures("file_mode")
def test_init_refuses_a_repository_that_has_a_manifest(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert budget(["init", "--ceiling", "5.00"]) == 0
    before = (repo / "budget" / "manifest.json").read_bytes()
    capsys.readouterr()
    assert budget(["init", "--ceiling", "50.00"]) == 2
    err = capsys.readouterr().err
    assert f"already set up: {repo / 'budget' / 'manifest.json'} exists" in err
    assert "edit it in a reviewed commit" in err
    assert (repo / "budget" / "manifest.json").read_bytes() == before


def test_init_refuses_this_course_s_repository(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (lab / ".git").mkdir()
    monkeypatch.chdir(lab / "checklists")
    with pytest.raises(InputError, match=r"already set up: .*experiments/35-cloud-budget/manifest"):
        init.init(ceiling="5")


def test_init_outside_a_repository_and_without_a_ceiling_is_refused(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="give the ceiling: budget init --ceiling USD"):
        init.init()  # no terminal to ask at
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"not inside a git repository: .* run `git init` first"):
        init.init(ceiling="5")
    assert not (repo / "budget").exists()


@pytest.mark.usefixtures("file_mode")
def test_caps_from_flags_leave_the_buffer_what_is_left(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["init", "--ceiling", "5", "--cap", "02=3.00", "--cap", "3=0", "--vendor", "vast"]
    assert budget([*argv, "--price", "0.31"]) == 0
    loaded = manifest.load(repo / "budget" / "manifest.json")
    assert dict(loaded.lab_caps) == {
        "02": Decimal("3.00"),
        "03": Decimal("0.00"),
        "buffer": Decimal("2.00"),
    }
    assert (loaded.vendor, loaded.price_per_gpu_hour) == ("vast", Decimal("0.31"))
    capsys.readouterr()
    assert budget(["authorize", "lab03-train", "0.01"]) == 3  # the $0.00 cap holds
    assert "lab 03 cap $0.00" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"caps": ["02=6.00"]}, "the caps add up to $6.00, more than the ceiling $5.00"),
        ({"caps": ["02=3"], "buffer": "1"}, "add up to $4.00, not the ceiling $5.00"),
        ({"caps": ["two=3"]}, "the cap 'two=3': the lab 'two' is not a lab number"),
        ({"caps": ["02"]}, "the cap '02' is not LAB=USD"),
        ({"vendor": "aws"}, "vendor 'aws' is not one of runpod, vast"),
        ({"price": "0.35"}, "--price needs --vendor"),
    ],
)
def test_wrong_flags_say_what_to_change_and_write_nothing(
    repo: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message.replace("$", r"\$")):
        init.init(ceiling="5", **options)  # type: ignore[arg-type]
    assert not (repo / "budget").exists()
    assert not (repo / ".gitignore").exists()


def test_at_a_terminal_what_is_not_given_is_asked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["five", "5.00", "02=3.00", "runpod", "0.35"])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    done = init.init(ask=ask)
    assert len(asked) == 5  # "five" was asked again
    assert "the ceiling 'five' is not" in capsys.readouterr().err
    loaded = manifest.load(done.manifest)
    assert loaded.ceiling == Decimal("5.00")
    assert dict(loaded.lab_caps) == {"02": Decimal("3.00"), "buffer": Decimal("2.00")}
    assert (loaded.vendor, loaded.price_per_gpu_hour) == ("runpod", Decimal("0.35"))


def test_enter_at_each_question_gives_the_ceiling_alone(repo: Path) -> None:
    done = init.init(ceiling="5", ask=lambda question: "")
    loaded = manifest.load(done.manifest)
    assert (dict(loaded.lab_caps), loaded.vendor, loaded.price_per_gpu_hour) == ({}, None, None)


def test_end_of_input_at_a_question_writes_nothing(repo: Path) -> None:
    def ask(question: str) -> str:
        raise EOFError

    with pytest.raises(Interrupted, match="nothing was written"):
        init.init(ceiling="5", ask=ask)
    assert not (repo / "budget").exists()


def test_git_lines_are_added_once_and_only_those_missing(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.jsonl.lock\n.venv/")  # no newline at the end
    done = init.init(ceiling="5")
    assert "*.jsonl.lock" not in done.gitignore
    lines = (repo / ".gitignore").read_text().splitlines()
    assert lines[:3] == ["*.jsonl.lock", ".venv/", "# minitrain preflight's ledger (budget init)"]
    assert lines.count("*.jsonl.key") == 1


def test_the_git_lines_are_this_repository_s_own() -> None:
    """One source of truth: what init writes for the course's folder is what this repository's
    own .gitignore and .gitattributes hold."""
    home = "experiments/35-cloud-budget"
    ignored = (REPO / ".gitignore").read_text().splitlines()
    attributes = (REPO / ".gitattributes").read_text().splitlines()
    assert [line for line in init.GITIGNORE if line.format(home=home) not in ignored] == []
    assert [a for a in init.GITATTRIBUTES if a.format(home=home) not in attributes] == []


@pytest.mark.usefixtures("file_mode")
def test_a_ledger_written_before_init_gets_its_manifest_beside_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = repo / "experiments" / "35-cloud-budget"
    course.mkdir(parents=True)
    (course / "spend.jsonl").touch()
    assert budget(["--ceiling", "5", "authorize", "lab01-x", "1.00"]) == 0
    assert budget(["init", "--ceiling", "5"]) == 0
    assert (course / "manifest.json").is_file()
    assert not (repo / "budget").exists()
    assert (
        "experiments/35-cloud-budget/spend.jsonl merge=union"
        in (repo / ".gitattributes").read_text()
    )
    capsys.readouterr()
    assert budget(["--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["remaining"] == "4.00"


def test_init_takes_no_ledger_or_manifest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert budget(["init", "--ceiling", "5", "--ledger", "x.jsonl"]) == 2
    assert "init takes no --ledger or --manifest" in capsys.readouterr().err
    assert not (repo / "budget").exists()


@pytest.mark.usefixtures("file_mode")
def test_without_a_vendor_an_actual_is_given_not_computed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert budget(["init", "--ceiling", "5"]) == 0
    assert budget(["authorize", "lab01-x", "1.00"]) == 0
    capsys.readouterr()
    assert budget(["record", "lab01-x", "--from-record"]) == 2
    assert "--from-record needs the price per GPU-hour" in capsys.readouterr().err
    assert budget(["record", "lab01-x", "0.80"]) == 0
