"""Running other programs: a timeout ends the program and every child it started."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from minitrain._commands import Ran, run


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """Issue 10: only the direct child was killed; a vendor CLI's own children ran on."""
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "p.wait()\n"
    )
    ran = run([sys.executable, "-c", code], timeout=3)
    assert ran.status is None
    assert ran.problem.endswith("did not finish within 3 s")
    grandchild = int(pidfile.read_text())
    for _ in range(100):  # SIGKILL is sent; the kernel takes a moment to finish it
        if not alive(grandchild):
            break
        time.sleep(0.05)
    assert not alive(grandchild)


def test_error_text_is_all_of_stderr_on_one_line() -> None:
    ran = Ran(
        ("vastai",), 2, "", "usage: vastai [-h]\n\nvastai: error: unrecognized arguments: -y\n"
    )
    assert ran.error_text() == "usage: vastai [-h] | vastai: error: unrecognized arguments: -y"
    assert Ran(("x",), 1, "", "").error_text() == "(no message)"


def test_a_missing_program_is_named_whether_found_on_path_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PATH look-up that spares a fork says what starting the program would have said."""
    monkeypatch.setenv("PATH", str(tmp_path))
    expected = "`no-such-cli` is not installed or not on PATH"
    assert run(["no-such-cli", "list"], timeout=5) == Ran(
        ("no-such-cli", "list"), None, "", "", expected, missing=True
    )
    assert run([str(tmp_path / "gone")], timeout=5).missing
    not_a_program = tmp_path / "no-such-cli"
    not_a_program.mkdir()  # found by name, but no program: exec's own error, not "missing"
    ran = run(["no-such-cli"], timeout=5)
    assert not ran.missing
    assert ran.problem.startswith("`no-such-cli` could not run:")
    script = tmp_path / "fake-cli"
    script.write_text("#!/bin/sh\necho listed\n")
    script.chmod(0o755)
    assert run(["fake-cli"], timeout=5) == Ran(("fake-cli",), 0, "listed\n", "")
