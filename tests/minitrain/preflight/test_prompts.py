"""The real questionary prompts, driven through prompt_toolkit's pipe input (no terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

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


def test_enter_after_a_rejected_y_keeps_the_y_and_needs_the_rest() -> None:
    assert ask("y\res\r") == "yes"


def test_each_enter_ends_exactly_one_answer() -> None:
    with create_pipe_input() as pipe:
        pipe.send_text("yes\rno\r")
        pipe.close()
        io = {"input": pipe, "output": DummyOutput()}
        assert prompts.ask("one", instruction="", validate=yes_or_no, io=io) == "yes"
        assert prompts.ask("two", instruction="", validate=yes_or_no, io=io) == "no"


def test_ctrl_c_aborts() -> None:
    with pytest.raises(Interrupted, match="Ctrl-C"):
        ask("ye\x03")


def test_ctrl_d_aborts() -> None:
    with pytest.raises(Interrupted):
        ask("\x04")


def test_end_of_input_aborts() -> None:
    with pytest.raises(Interrupted):
        ask("")


def test_a_default_is_taken_by_enter_only_where_a_step_has_one() -> None:
    assert ask("\r", default="no") == "no"
