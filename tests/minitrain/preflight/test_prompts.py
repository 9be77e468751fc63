"""The real questionary prompts, driven through prompt_toolkit's pipe input (no terminal)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.output.plain_text import PlainTextOutput

from minitrain.errors import Interrupted
from minitrain.preflight import prompts


@contextmanager
def typed(keys: str) -> Iterator[dict[str, Any]]:
    """Keys a person types; the pipe closes after them, so a prompt still waiting gets EOF."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()
        yield {"input": pipe, "output": DummyOutput()}


def yes_or_no(text: str) -> str | None:
    return None if text.strip().lower() in ("yes", "no") else "type the whole word yes, or no"


def ask(keys: str, **kwargs: Any) -> str:
    with typed(keys) as io:
        return prompts.ask(
            "Console lists nothing?", instruction="(yes/no)", validate=yes_or_no, io=io, **kwargs
        )


def test_a_typed_yes_answers() -> None:
    assert ask("yes\r") == "yes"


def test_bare_enter_and_y_enter_never_pass_a_step_without_default() -> None:
    with pytest.raises(Interrupted):  # Enter, y+Enter re-ask; then the input ends
        ask("\ry\r")


def test_each_enter_ends_exactly_one_answer() -> None:
    with create_pipe_input() as pipe:
        io = {"input": pipe, "output": DummyOutput()}
        pipe.send_text("yes\r")
        assert prompts.ask("one", instruction="", validate=yes_or_no, io=io) == "yes"
        pipe.send_text("no\r")
        assert prompts.ask("two", instruction="", validate=yes_or_no, io=io) == "no"


def test_keys_left_over_from_one_prompt_never_answer_the_next() -> None:
    # prompt_toolkit keeps keys read after an Enter for the next prompt
    # (prompt_toolkit/input/typeahead.py); they must be discarded, not answer it
    with create_pipe_input() as pipe:
        io = {"input": pipe, "output": DummyOutput()}
        store_typeahead(pipe, [KeyPress(ch) for ch in "yes"] + [KeyPress(Keys.ControlM, "\r")])
        pipe.send_text("no\r")
        assert prompts.ask("two", instruction="", validate=yes_or_no, io=io) == "no"


@pytest.mark.parametrize(
    "paste",
    ["yes\rno\r", "yes\nno\n", "\x1b[200~yes\rno\r\x1b[201~", "\x1b[200~yes\nno\x1b[201~"],
    ids=["enter", "newline", "bracketed-enter", "bracketed-newline"],
)
def test_a_paste_of_several_lines_answers_nothing(paste: str) -> None:
    with create_pipe_input() as pipe:
        io = {"input": pipe, "output": DummyOutput()}
        pipe.send_text(paste)
        pipe.close()
        with pytest.raises(Interrupted):  # refused as a whole: the prompt still waits
            prompts.ask("one", instruction="", validate=yes_or_no, io=io)


def test_a_paste_of_one_line_fills_the_field_and_enter_answers() -> None:
    assert ask("\x1b[200~yes\n\x1b[201~\r") == "yes"
    assert ask("yes\r") == "yes"


def test_ctrl_c_aborts() -> None:
    with pytest.raises(Interrupted, match=r"^Ctrl-C$"):  # the runner adds the step
        ask("ye\x03")


def test_ctrl_d_aborts() -> None:
    with pytest.raises(Interrupted):
        ask("\x04")


def test_end_of_input_aborts() -> None:
    with pytest.raises(Interrupted):
        ask("")


def test_a_default_is_taken_by_enter_only_where_a_step_has_one() -> None:
    assert ask("\r", default="no") == "no"


def test_a_refused_answer_is_said_in_full_above_the_question_and_the_field_emptied() -> None:
    """Issue 23: the reason sat in the bottom bar, cut at the window's width ('ten' is not a
    numbe), and the next try was appended to the refused text (ten$44,00)."""
    reason = "'ten' is not a number: type a number of hours, in digits only " + "x" * 100
    shown = io.StringIO()
    with create_pipe_input() as pipe:

        def hours(text: str) -> str | None:
            if text == "4":
                return None
            if text == "ten":
                pipe.send_text("4\r")  # the person reads the reason, then types again
            else:
                pipe.close()  # the test has failed: end the prompt
            return reason

        pipe.send_text("ten\r")
        answer = prompts.ask(
            "Hours?", instruction="", validate=hours, io={"input": pipe, "output": screen(shown)}
        )
    assert answer == "4"  # not "ten4": the refused text was cleared
    assert f"  {reason}\r\n" in shown.getvalue()  # on a line of its own, never cut


def screen(out: io.StringIO) -> PlainTextOutput:
    """A plain-text output: what the prompt writes, without escape codes."""
    return PlainTextOutput(out)  # type: ignore[arg-type]


@pytest.mark.parametrize("enter", ["\r", "\n"], ids=["cr", "lf"])
def test_at_a_gate_a_word_and_its_enter_in_one_write_do_nothing(enter: str) -> None:
    """Issue 23: `send-keys $'authorize\\n'` (one write, as a paste) authorized $1.00."""
    shown = io.StringIO()
    # refused; the prompt waits on, then the input ends
    with typed(f"authorize{enter}") as io_, pytest.raises(Interrupted):
        prompts.ask(
            "Authorize?",
            instruction="",
            validate=lambda text: None,
            typed="authorize",
            io={**io_, "output": screen(shown)},
        )
    assert prompts.TOGETHER_REFUSED in shown.getvalue()
    # at any other question a fast typist's word and Enter may arrive together
    assert ask("yes\r") == "yes"


def test_a_burst_of_enters_is_called_what_it_is() -> None:
    shown = io.StringIO()
    with typed("\r\r\r") as io_, pytest.raises(Interrupted):
        prompts.ask(
            "Console lists nothing?",
            instruction="",
            validate=yes_or_no,
            default="yes",
            io={**io_, "output": screen(shown)},
        )
    assert prompts.ENTERS_REFUSED in shown.getvalue()
    assert "paste" not in shown.getvalue()
