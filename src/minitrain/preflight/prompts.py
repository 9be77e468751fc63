"""The only module that imports questionary (and prompt_toolkit's key handling).

Hazards designed around (measured, see shared/STYLE.md): ``confirm`` always has a default and
``auto_enter`` lets a habitual ``y`` + Enter also accept the next prompt, and ``select`` returns
its first choice on a bare Enter. So every question here is a typed-text prompt with a validator:
a bare Enter passes nothing unless the step has a default, and each Enter answers one prompt.

A refused answer is said in full on a line of its own above the question (prompt_toolkit's
bottom bar is cut at the window's width), and the field is emptied, so the next try is not
appended to the refused text.

Keys that arrive before a prompt is drawn never answer it: the terminal's buffer is flushed
(``tcflush``) *and* prompt_toolkit's own typeahead store is cleared, because prompt_toolkit
keeps the keys it read after an Enter and feeds them to the next prompt
(``prompt_toolkit/input/typeahead.py``; a flush of the terminal alone does not reach them).
A paste fills at most the field it lands in: an Enter that arrives in the same read as more keys
is a paste of several lines (no hand types that fast), and the whole paste is refused; so is a
bracketed paste (``ESC[200~ ... ESC[201~``) with more than one line. A gate's word (``typed``)
passes only when its Enter arrives in a read of its own, as a hand's Enter does: a single write
of the word and its Enter (a one-line paste, tmux's ``send-keys $'authorize\\n'``) is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import questionary
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.input import Input, create_input
from prompt_toolkit.input.typeahead import clear_typeahead
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.key_processor import KeyProcessor
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import create_output
from prompt_toolkit.styles import Style

from minitrain.errors import Interrupted

_STYLE = Style(
    [("instruction", "fg:ansiyellow"), ("answer", "bold"), ("refused", "fg:ansired bold")]
)
PASTE_REFUSED = "a paste of several lines is refused: type one answer, then Enter"
ENTERS_REFUSED = (
    "several Enters arrived at once: none of them answered; type the answer, then one Enter"
)
TOGETHER_REFUSED = (
    "the Enter arrived together with the keys before it, as from a paste (or a slow"
    " connection): nothing was done; type the word again, then press Enter on its own"
)
_NOT_TYPED = (Keys.CPRResponse, Keys.Ignore)  # what a terminal sends on its own, not a person
_ENTERS = (Keys.ControlM, Keys.ControlJ)


def ask(
    message: str,
    *,
    instruction: str,
    validate: Callable[[str], str | None],
    default: str = "",
    typed: str | None = None,
    io: dict[str, Any] | None = None,
) -> str:
    """Ask for one typed line; re-ask while ``validate`` returns a message. ``typed``: a word
    (a gate's) that passes only when its Enter arrives in a read of its own. Ctrl-C/D abort."""
    io = dict(io or {})
    keys: Input = io.pop("input", None) or create_input()
    if "output" not in io:
        _flush_terminal()
        # `preflight run ... | tee log`: the prompt is drawn on the terminal (stderr), not logged
        io["output"] = create_output(always_prefer_tty=True)
    clear_typeahead(keys)

    reads = _Reads()
    question = questionary.text(
        message,
        instruction=instruction,
        default=default,
        style=_STYLE,
        qmark="?",
        input=keys,
        key_bindings=_one_answer_per_prompt(reads, validate, typed=typed),
        **io,
    )
    processor = question.application.key_processor
    processor.before_key_press += lambda _: reads.next_key(processor)
    try:
        answer = question.unsafe_ask()
    except KeyboardInterrupt:
        raise Interrupted("Ctrl-C") from None
    except EOFError:
        raise Interrupted("Ctrl-D (or the end of input)") from None
    finally:
        clear_typeahead(keys)  # what came after the Enter is nobody's answer
    if answer is None:  # pragma: no cover - unsafe_ask raises instead; kept as a tripwire
        raise Interrupted("the prompt returned no answer")
    return str(answer)


class _Reads:
    """Which keys arrived in one read from the terminal: prompt_toolkit queues a read's keys
    and fires ``before_key_press`` as it takes each one, so what is still queued then arrived
    with it."""

    def __init__(self) -> None:
        self.followed = False  # the key before this one had typed keys after it in its read
        self.with_previous = False  # this key arrived in the same read as the one before

    def next_key(self, processor: KeyProcessor) -> None:
        self.with_previous = self.followed
        self.followed = any(key.key not in _NOT_TYPED for key in processor.input_queue)


def _one_answer_per_prompt(
    reads: _Reads, validate: Callable[[str], str | None], *, typed: str | None
) -> KeyBindings:
    """Enter answers only when it is the last key of its read (and, after the ``typed`` word,
    the only one) and the text is well formed; otherwise the field is emptied and the reason
    shown."""
    bindings = KeyBindings()

    # c-j too: prompt_toolkit's own c-j binding feeds a fresh Enter back into the queue, which
    # would arrive "alone" and pass a gate's word sent as `authorize\n`
    @bindings.add("enter")
    @bindings.add("c-j")
    def _enter(event: KeyPressEvent) -> None:
        queued = [k.key for k in event.app.key_processor.input_queue if k.key not in _NOT_TYPED]
        if queued:
            event.app.key_processor.empty_queue()  # the rest of the paste answers nothing
            _refuse(event, ENTERS_REFUSED if set(queued) <= set(_ENTERS) else PASTE_REFUSED)
            return
        text = event.current_buffer.text
        if typed is not None and text.strip().lower() == typed and reads.with_previous:
            _refuse(event, TOGETHER_REFUSED)
            return
        problem = validate(text)
        if problem is not None:
            _refuse(event, problem)
            return
        event.current_buffer.validate_and_handle()

    @bindings.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        text = event.data.replace("\r\n", "\n").replace("\r", "\n")
        if text.endswith("\n"):
            text = text[:-1]  # one line copied with its line ending is still one line
        if "\n" in text:
            _refuse(event, PASTE_REFUSED)
            return
        event.current_buffer.insert_text(text)

    return bindings


def _refuse(event: KeyPressEvent, reason: str) -> None:
    """Empty the field and say why above the question, in full (it wraps; it is never cut)."""
    event.current_buffer.reset()
    app = event.app
    run_in_terminal(lambda: app.print_text([("class:refused", f"  {reason}\n")]))


def _flush_terminal() -> None:
    """Discard keys typed before the prompt appeared, so a paste cannot answer it."""
    try:
        import termios

        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError):
        pass  # not a terminal: nothing buffered to discard
