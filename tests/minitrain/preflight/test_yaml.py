"""libyaml and the pure-Python loader give the same result on every checklist we ship or test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from minitrain.errors import FileFormatError
from minitrain.preflight import _yaml
from tests.conftest import REPO

YAML_FILES = sorted(
    [
        *(REPO / "checklists").glob("*.yaml"),
        *(REPO / "checklists" / "answers").glob("*.yaml"),
        *(REPO / "tests" / "data").rglob("*.yaml"),
    ]
)
needs_libyaml = pytest.mark.skipif(
    _yaml._FAST is None, reason="PyYAML was built without libyaml; only the pure loader runs"
)


def _shape(value: Any) -> Any:
    """The value with every line number a later error message could quote."""
    if isinstance(value, _yaml.LineDict):
        return ("map", value.line, value.key_lines, {k: _shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return (type(value).__name__, value)


def _outcome(loader: Any, text: str) -> Any:
    try:
        return _shape(_yaml._load(loader, text))
    except yaml.YAMLError:
        return "refused"


@needs_libyaml
@pytest.mark.parametrize("strings_only", [False, True], ids=["typed", "strings"])
@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_libyaml_and_the_pure_loader_agree(path: Path, strings_only: bool) -> None:
    assert _yaml._FAST is not None
    text = path.read_text(encoding="utf-8")
    pure = _outcome(_yaml._PURE[strings_only], text)
    assert _outcome(_yaml._FAST[strings_only], text) == pure


def test_the_corpus_has_valid_and_invalid_yaml() -> None:
    outcomes = {_outcome(_yaml._PURE[0], p.read_text()) == "refused" for p in YAML_FILES}
    assert outcomes == {True, False}
    assert len(YAML_FILES) > 30


@needs_libyaml
def test_an_error_is_worded_by_the_pure_loader(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: t\nsteps:\n  - id: [unclosed\n")
    with pytest.raises(FileFormatError) as caught:
        _yaml.read(path)
    # libyaml alone would say "did not find expected ',' or ']'"
    assert str(caught.value) == (
        f"{path}:4: not valid YAML: expected ',' or ']', but got '<stream end>'"
    )


def test_a_tab_after_a_key_is_refused_as_the_pure_loader_does(tmp_path: Path) -> None:
    # libyaml alone would read this as {'id': 't'}; the result must not depend on the build
    path = tmp_path / "tab.yaml"
    path.write_text("id:\tt\n")
    with pytest.raises(FileFormatError, match="cannot start any token"):
        _yaml.read(path)
