"""Checklists load into frozen types; every broken one is refused with file, line and step."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from minitrain.errors import FileFormatError
from minitrain.preflight import checklist, fields
from tests.conftest import REPO

CHECKLISTS = REPO / "checklists"
INVALID = sorted((REPO / "tests" / "data" / "checklists" / "invalid").glob("*.yaml"))
SCHEMA = json.loads((CHECKLISTS / "checklist.schema.json").read_text())


def _header(path: Path, key: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}: "):
            return line.removeprefix(f"# {key}: ")
    raise AssertionError(f"{path} has no '# {key}:' line")


@pytest.mark.parametrize("name", ["pre-flight", "post-flight"])
def test_shipped_checklists_load_and_are_frozen(name: str) -> None:
    loaded = checklist.load(CHECKLISTS / f"{name}.yaml")
    assert loaded.id == name
    assert loaded.gate.kind == "gate"
    with pytest.raises(AttributeError, match="cannot assign to field 'critical'"):
        loaded.steps[0].critical = False  # type: ignore[misc]
    assert hash(loaded.steps[0]) == hash(checklist.load(CHECKLISTS / f"{name}.yaml").steps[0])


def test_pre_flight_has_the_routine_in_order() -> None:
    steps = checklist.load(CHECKLISTS / "pre-flight.yaml").steps
    assert [s.id for s in steps] == [
        "no-other-instances",
        "budget-alert",
        "auto-termination",
        "instance-type",
        "headroom",
        "termination-plan",
        "start-time",
        "gate",
    ]
    assert all(s.critical for s in steps[:6])
    assert all(s.default is None for s in steps if s.critical)
    assert not any(s.scripted for s in steps)  # a live run is answered by a person


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_each_invalid_checklist_gets_its_message(path: Path) -> None:
    with pytest.raises(FileFormatError) as caught:
        checklist.load(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert _header(path, "error") in message


def test_the_published_schema_is_the_loaders() -> None:
    assert fields.schema() == SCHEMA, "run: preflight schema > checklists/checklist.schema.json"


@pytest.mark.parametrize("path", [*CHECKLISTS.glob("*.yaml"), *INVALID], ids=lambda p: p.stem)
def test_schema_and_loader_agree(path: Path) -> None:
    expected = "valid" if path.parent == CHECKLISTS else _header(path, "schema")
    if expected == "n/a":  # not YAML at all, or YAML a schema cannot see (duplicate keys)
        return
    errors = list(
        jsonschema.Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(path.read_text()))
    )
    assert (not errors) == (expected == "valid"), [e.message for e in errors]
