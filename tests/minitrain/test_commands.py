"""Running other programs: a timeout ends the program and every child it started."""

from __future__ import annotations

import sys
import time
from pathlib import Path

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
