"""The built wheel, installed in a fresh virtual environment, works in any git repository (issue
25: installed as a tool, `budget status` said "run inside the repository" and `preflight run`
found no checklist). What `pipx install` and `uv tool install` do: a venv of its own, the wheel.

The dependencies come from the package index; where it cannot be reached the test is skipped,
saying so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# What pip prints when it cannot reach the index (urllib3 and pip's resolver, offline)
UNREACHABLE = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Could not find a version that satisfies",
)
TIMEOUT_S = 600  # a hang, not a speed goal


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal: init asks nothing
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with the wheel built from this source installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: building writes build/ and *.egg-info beside the source
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    env = _clean_env(work)
    pip = [sys.executable, "-m", "pip"]
    # the build itself fetches setuptools into an isolated environment: the index again
    _succeeded(_run([*pip, "wheel", ".", "--no-deps", "-w", str(work / "dist")], source, env))
    (wheel,) = (work / "dist").glob("minitrain_preflight-*.whl")
    venv = work / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], work, env)
    assert made.returncode == 0, made.stderr
    _succeeded(_run([str(venv / "bin" / "python"), "-m", "pip", "install", str(wheel)], work, env))
    return venv / "bin"


def _succeeded(done: subprocess.CompletedProcess[str]) -> None:
    """A pip command worked; one that could not reach the package index skips, saying so."""
    if done.returncode == 0:
        return
    said = done.stdout + done.stderr
    lines = [line for line in said.splitlines() if any(sign in line for sign in UNREACHABLE)]
    if lines:
        pytest.skip(f"the package index is unreachable (setuptools, the dependencies): {lines[0]}")
    pytest.fail(f"{done.args}: {said}")


def _clean_env(work: Path) -> dict[str, str]:
    """This environment without what points at the source tree or changes what the guard
    writes; the home is the test's own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "BUDGET_GUARD_TEST_MODE")
        and not key.startswith("LYNX_")
    }
    env["HOME"] = str(work / "home")
    return env


def test_the_installed_wheel_sets_up_and_runs_in_an_empty_git_repository(
    tool: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    else:
        (repo / ".git").mkdir()
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    env = _clean_env(tmp_path)

    def ok(cwd: Path, *argv: str) -> str:
        done = _run([str(tool / argv[0]), *argv[1:]], cwd, env)
        assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout

    assert ok(repo, "budget", "init", "--ceiling", "5.00").startswith(
        f"set up budget/ in {repo.resolve()}: manifest.json (ceiling $5.00;"
    )
    assert "remaining  $5.00" in ok(deep, "budget", "status")
    authorized = ok(deep, "budget", "authorize", "lab01-x", "1.00")
    assert authorized == "authorized lab01-x $1.00; remaining $4.00 of $5.00\n"
    assert (repo / "budget" / "spend.jsonl").read_text().count('"op_label":"lab01-x"') == 1
    assert ok(deep, "preflight", "lint", "pre-flight") == "pre-flight: ok\n"
    assert ok(deep, "preflight", "lint", "checklists/post-flight.yaml").endswith(": ok\n")
    assert not (deep / "experiments").exists()
    assert not (deep / "budget").exists()
