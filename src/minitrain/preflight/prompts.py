"""The only module that imports questionary (and prompt_toolkit's key handling).

Hazards designed around (measured, see shared/STYLE.md): ``confirm`` always has a default and
``auto_enter`` lets a habitual ``y`` + Enter also accept the next prompt, and ``select`` returns
its first choice on a bare Enter. So every question here is a typed-text prompt with a validator:
a bare Enter passes nothing unless the step has a default, and each Enter answers one prompt.

Keys that arrive before a prompt is drawn never answer it: the terminal's buffer is flushed
(``tcflush``) *and* prompt_toolkit's own typeahead store is cleared, because prompt_toolkit
keeps the keys it read after an Enter and feeds them to the next prompt
(``prompt_toolkit/input/typeahead.py``; a flush of the terminal alone does not reach them).
A paste fills at most the field it lands in: an Enter that arrives in the same read as more keys
is a paste of several lines (no hand types that fast), and the whole paste is refused; so is a
bracketed paste (``ESC[200~ ... ESC[201~``) with more than one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import questionary
from prompt_toolkit.input import Input, create_input
from prompt_toolkit.input.typeahead import clear_typeahead
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import create_output
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError

from minitrain.errors import Interrupted

_STYLE = Style([("instruction", "fg:ansiyellow"), ("answer", "bold")])
PASTE_REFUSED = "a paste of several lines is refused: type one answer, then Enter"
_NOT_TYPED = (Keys.CPRResponse, Keys.Ignore)  # what a terminal sends on its own, not a person


def ask(
    message: str,
    *,
    instruction: str,
    validate: Callable[[str], str | None],
    default: str = "",
    io: dict[str, Any] | None = None,
) -> str:
    """Ask for one typed line; re-ask while ``validate`` returns a message. Ctrl-C/D abort."""
    io = dict(io or {})
    keys: Input = io.pop("input", None) or create_input()
    if "output" not in io:
        _flush_terminal()
        # `preflight run ... | tee log`: the prompt is drawn on the terminal (stderr), not logged
        io["output"] = create_output(always_prefer_tty=True)
    clear_typeahead(keys)

    pasted = _Paste()

    def check(text: str) -> bool | str:
        if pasted.refused and not text:  # validation while typing would hide why it is empty
            return PASTE_REFUSED
        pasted.refused = False
        problem = validate(text)
        return True if problem is None else problem

    question = questionary.text(
        message,
        instruction=instruction,
        default=default,
        validate=check,
        style=_STYLE,
        qmark="?",
        input=keys,
        key_bindings=_one_answer_per_prompt(pasted),
        **io,
    )
    try:
        answer = question.unsafe_ask()
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("stopped at the prompt (Ctrl-C, Ctrl-D or end of input)") from None
    finally:
        clear_typeahead(keys)  # what came after the Enter is nobody's answer
    if answer is None:  # pragma: no cover - unsafe_ask raises instead; kept as a tripwire
        raise Interrupted("the prompt returned no answer")
    return str(answer)


class _Paste:
    refused = False


def _one_answer_per_prompt(pasted: _Paste) -> KeyBindings:
    """Enter answers only when it is the last key of its read; a pasted block is refused."""
    bindings = KeyBindings()

    def refuse(event: KeyPressEvent) -> None:
        pasted.refused = True
        buffer = event.current_buffer
        buffer.reset()
        buffer.validation_error = ValidationError(message=PASTE_REFUSED)

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        queued = event.app.key_processor.input_queue
        if any(key.key not in _NOT_TYPED for key in queued):
            event.app.key_processor.empty_queue()  # the rest of the paste answers nothing
            refuse(event)
            return
        event.current_buffer.validate_and_handle()

    @bindings.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        text = event.data.replace("\r\n", "\n").replace("\r", "\n")
        if text.endswith("\n"):
            text = text[:-1]  # one line copied with its line ending is still one line
        if "\n" in text:
            refuse(event)
            return
        event.current_buffer.insert_text(text)

    return bindings


def _flush_terminal() -> None:
    """Discard keys typed before the prompt appeared, so a paste cannot answer it."""
    try:
        import termios

        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError):
        pass  # not a terminal: nothing buffered to discard
