"""Running other programs: always an argument list (never a shell), no stdin, a timeout, and
output with credentials redacted before anything shows or keeps it."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from minitrain._secrets import redact


@dataclass(frozen=True)
class Ran:
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


def run(argv: Sequence[str], *, timeout: float) -> Ran:
    args = tuple(argv)
    shown = " ".join(args)
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return Ran(args, None, "", "", f"`{args[0]}` is not installed or not on PATH", True)
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return Ran(
            args, None, redact(partial), "", f"`{shown}` did not finish within {timeout:g} s"
        )
    except OSError as exc:
        return Ran(args, None, "", "", f"`{shown}` could not run: {exc.strerror}")
    return Ran(args, done.returncode, redact(done.stdout), redact(done.stderr))
