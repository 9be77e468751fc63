"""The one place that turns errors into a message on stderr and an exit code, and the one door
every line to the terminal goes through: while a command runs, stdout and stderr redact what the
process knows to be secret (``_secrets``) from every line written to them."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence

from minitrain.errors import ExitCode, Interrupted, PreflightError, Stopped

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import TextIO

DEBUG_ENV = "MINITRAIN_DEBUG"
# The longest message said whole; a longer one (a value echoed whole by a path that forgot to
# shorten it) is cut, after redaction, so a pasted megabyte never floods the terminal.
MESSAGE_MAX = 1_000


def wants_json(argv: Sequence[str]) -> bool:
    """Whether errors should be JSON: ``--json`` among the program's own words (not after
    ``--``, where a vendor's command line starts). Read before parsing, so that a command line
    argparse refuses is answered as JSON too; argparse alone reads what the words mean."""
    words = list(argv)
    return "--json" in words[: words.index("--")] if "--" in words else "--json" in words


def run(prog: str, command: Callable[[], int], *, json: bool = False) -> int:
    """Run ``command``; a known error is one plain line (with ``json``, one JSON object), an
    unknown one a line and a hint. Every line written meanwhile is redacted."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Redacting(out), _Redacting(err)
    try:
        return _run(prog, command, json=json)
    finally:
        sys.stdout, sys.stderr = out, err


def _run(prog: str, command: Callable[[], int], *, json: bool) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = command()
        except PreflightError as exc:
            code = _say(prog, _kind(exc), str(exc), exc.exit_code, json=json)
        except KeyboardInterrupt:
            code = _say(
                prog,
                "interrupted",
                "stopped by Ctrl-C; `budget status` shows what the ledger holds",
                ExitCode.INTERRUPTED,
            )
        except BrokenPipeError:
            code = ExitCode.OK  # `budget status | head`: the reader left; not our failure
        except Exception as exc:  # noqa: BLE001 - the last resort, by design
            if os.environ.get(DEBUG_ENV):
                import traceback

                traceback.print_exc()
            code = _say(
                prog,
                "internal error",
                f"{type(exc).__name__}: {exc} (a bug; rerun with {DEBUG_ENV}=1 for the traceback"
                " and report it)",
                ExitCode.INTERNAL,
            )
        finally:
            for warning in caught:
                print(f"{prog}: warning: {_short(str(warning.message))}", file=sys.stderr)
    return int(code)


def _kind(exc: PreflightError) -> str:
    """A person's own `stop` or Ctrl-C is their decision, not an error."""
    return "stopped" if isinstance(exc, (Interrupted, Stopped)) else "error"


def _say(prog: str, kind: str, message: str, code: ExitCode, *, json: bool = False) -> ExitCode:
    if json:
        import json as json_module

        error = {"error": kind, "message": _short(message), "exit_code": int(code)}
        print(json_module.dumps(error), file=sys.stderr)
    else:
        print(f"{prog}: {kind}: {_short(message)}", file=sys.stderr)
    return code


def _short(message: str) -> str:
    """``message`` redacted, and cut to MESSAGE_MAX characters (after redaction: a cut secret
    would no longer be recognised)."""
    from minitrain._secrets import redact

    message = redact(message)
    if len(message) <= MESSAGE_MAX:
        return message
    return f"{message[:MESSAGE_MAX]}... (cut: {len(message):,} characters)"


class _Redacting:
    """A text stream that redacts every piece written to it; otherwise the stream it wraps
    (``isatty``, ``fileno``, ``encoding`` and ``buffer`` pass through: a prompt library that
    writes bytes to ``buffer`` writes what the person types, not what the process knows)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._redact: Callable[[str], str] | None = None

    def write(self, text: str) -> int:
        if self._redact is None:  # the first line written reads what is secret, once
            from minitrain._secrets import redactor

            self._redact = redactor()
        self._stream.write(self._redact(text) if text.strip() else text)
        return len(text)

    def writelines(self, lines: object) -> None:
        for line in lines:  # type: ignore[attr-defined]
            self.write(line)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
