"""The one place that turns errors into a message on stderr and an exit code."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence

from minitrain.errors import ExitCode, Interrupted, PreflightError, Stopped

DEBUG_ENV = "MINITRAIN_DEBUG"


def wants_json(argv: Sequence[str]) -> bool:
    """Whether errors should be JSON: ``--json`` among the program's own words (not after
    ``--``, where a vendor's command line starts). Read before parsing, so that a command line
    argparse refuses is answered as JSON too; argparse alone reads what the words mean."""
    words = list(argv)
    return "--json" in words[: words.index("--")] if "--" in words else "--json" in words


def run(prog: str, command: Callable[[], int], *, json: bool = False) -> int:
    """Run ``command``; a known error is one plain line (with ``json``, one JSON object), an
    unknown one a line and a hint."""
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
                print(f"{prog}: warning: {warning.message}", file=sys.stderr)
    return int(code)


def _kind(exc: PreflightError) -> str:
    """A person's own `stop` or Ctrl-C is their decision, not an error."""
    return "stopped" if isinstance(exc, (Interrupted, Stopped)) else "error"


def _say(prog: str, kind: str, message: str, code: ExitCode, *, json: bool = False) -> ExitCode:
    if json:
        import json as json_module

        error = {"error": kind, "message": message, "exit_code": int(code)}
        print(json_module.dumps(error), file=sys.stderr)
    else:
        print(f"{prog}: {kind}: {message}", file=sys.stderr)
    return code
