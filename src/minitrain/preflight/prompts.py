"""The only module that imports questionary.

Hazards designed around (measured, see shared/STYLE.md): ``confirm`` always has a default and
``auto_enter`` lets a habitual ``y`` + Enter also accept the next prompt, and ``select`` returns
its first choice on a bare Enter. So every question here is a typed-text prompt with a validator:
a bare Enter passes nothing unless the step has a default, and each Enter answers one prompt.
Typeahead (a pasted ``yes\\nyes\\n``) is flushed before each prompt so it cannot answer the next.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import questionary
from prompt_toolkit.styles import Style

from minitrain.errors import Interrupted

_STYLE = Style([("instruction", "fg:ansiyellow"), ("answer", "bold")])


def ask(
    message: str,
    *,
    instruction: str,
    validate: Callable[[str], str | None],
    default: str = "",
    io: dict[str, Any] | None = None,
) -> str:
    """Ask for one typed line; re-ask while ``validate`` returns a message. Ctrl-C/D abort."""
    if io is None:
        _flush_typeahead()

    def check(text: str) -> bool | str:
        problem = validate(text)
        return True if problem is None else problem

    question = questionary.text(
        message,
        instruction=instruction,
        default=default,
        validate=check,
        style=_STYLE,
        qmark="?",
        **(io or {}),
    )
    try:
        answer = question.unsafe_ask()
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("stopped at the prompt (Ctrl-C, Ctrl-D or end of input)") from None
    if answer is None:  # pragma: no cover - unsafe_ask raises instead; kept as a tripwire
        raise Interrupted("the prompt returned no answer")
    return str(answer)


def _flush_typeahead() -> None:
    """Discard keys typed before the prompt appeared, so a paste cannot answer it."""
    try:
        import termios

        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError):
        pass  # not a terminal: nothing buffered to discard
