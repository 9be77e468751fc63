"""Running other programs: always an argument list (never a shell), no stdin, a timeout, and
output with credentials redacted before anything shows or keeps it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from minitrain._secrets import redact
from minitrain._struct import Struct

TYPE_CHECKING = False  # mypy reads this name as True
if TYPE_CHECKING:
    import subprocess

SHOWN_CHARS = 1000  # the most of a program's error text a message carries


class Ran(Struct, frozen=True):
    argv: tuple[str, ...]
    status: int | None  # None: it did not run to the end (see ``problem``)
    stdout: str
    stderr: str
    problem: str = ""  # not installed, timed out, could not start
    missing: bool = False  # the program is not installed (or not on PATH)

    @property
    def shown(self) -> str:
        return " ".join(self.argv)

    @property
    def ok(self) -> bool:
        return self.status == 0

    def first_error_line(self) -> str:
        text = self.stderr.strip() or self.stdout.strip() or "(no message)"
        return text.splitlines()[0][:200]

    def error_text(self) -> str:
        """All of what it said about the failure (stderr, else stdout), on one line."""
        return one_line(self.stderr) or one_line(self.stdout) or "(no message)"


def one_line(text: str) -> str:
    """Every non-blank line of ``text``, stripped and joined, cut at SHOWN_CHARS."""
    joined = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= SHOWN_CHARS else joined[: SHOWN_CHARS - 3] + "..."


def run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> Ran:
    """``env``: variables to add to this process's environment for the child (a credential
    passed in memory, never on its command line, where `ps` shows it)."""
    args = tuple(argv)
    if not _found(args[0]):
        return Ran(args, None, "", "", f"`{args[0]}` is not installed or not on PATH", True)
    import subprocess  # here, not at the top: the commands that never run one start faster

    shown = " ".join(args)
    try:
        # its own session (process group), so a timeout ends the children it started too
        child = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    except FileNotFoundError:
        return Ran(args, None, "", "", f"`{args[0]}` is not installed or not on PATH", True)
    except OSError as exc:
        return Ran(args, None, "", "", f"`{shown}` could not run: {exc.strerror}")
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        partial, _ = child.communicate()
        return Ran(
            args, None, redact(partial or ""), "", f"`{shown}` did not finish within {timeout:g} s"
        )
    except BaseException:  # Ctrl-C: the child has no terminal of ours to hear it on
        _kill_group(child)
        child.wait()
        raise
    return Ran(args, child.returncode, redact(stdout), redact(stderr))


def _found(program: str) -> bool:
    """Whether the exec that ``Popen`` does could find ``program``: a file of that name in a
    directory of PATH (or at that path). When there is none, starting it is certain to fail with
    FileNotFoundError; knowing it first spares a fork (a dry run without the vendor's CLI
    senses its instances twice) and importing ``subprocess``."""
    if os.sep in program:
        return Path(program).exists()
    return any((Path(folder) / program).exists() for folder in os.get_exec_path())


def _kill_group(child: subprocess.Popen[str]) -> None:
    import signal  # already loaded by subprocess; a dry run without the vendor's CLI needs neither

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
