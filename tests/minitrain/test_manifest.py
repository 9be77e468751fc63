"""The lab manifest drives the guard; a broken one is a clear error naming the field."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import manifest
from minitrain.errors import FileFormatError
from tests.conftest import REAL_MANIFEST

GOOD = json.loads(REAL_MANIFEST.read_text())


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "experiments" / "35-cloud-budget" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_real_manifest_loads_with_the_seed_numbers() -> None:
    loaded = manifest.load(REAL_MANIFEST)
    assert (loaded.seed, loaded.ceiling, loaded.currency) == (35000, Decimal("5.00"), "USD")
    assert dict(loaded.lab_caps) == {
        "02": Decimal("3.00"),
        "03": Decimal("0.00"),
        "buffer": Decimal("2.00"),
    }
    assert loaded.ledger_path == str(REAL_MANIFEST.parent / "spend.jsonl")


def test_found_from_a_folder_inside_the_repository(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert manifest.find(deep) == str(path)
    assert manifest.load(path).root == tmp_path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ceiling_per_lab": {"02": 3.00, "buffer": 1.00}}, "adds up to 4.00"),
        ({"gpus": 0}, "field 'gpus' is 0"),
        ({"currency": "EUR"}, "field 'currency' is 'EUR'; only 'USD' is supported"),
        ({"ceiling_usd": "five"}, "field 'ceiling_usd' has the wrong type"),
        ({"ceiling_usd": -5}, "negative"),
        ({"vendor": "aws"}, "no price for the vendor 'aws'"),
        ({"surprise": 1}, "unknown field 'surprise'"),
        ({"vendor_snapshot_prices": {"runpod": "cheap"}}, "is not a number"),
    ],
)
def test_broken_manifests_name_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(FileFormatError, match=message) as caught:
        manifest.load(path)
    assert str(caught.value).startswith(str(path))


def test_missing_field_and_bad_json(tmp_path: Path) -> None:
    data = dict(GOOD)
    del data["spend_log_path"]
    with pytest.raises(FileFormatError, match="missing field 'spend_log_path'"):
        manifest.load(write(tmp_path, data))
    with pytest.raises(FileFormatError, match=r"manifest.json:2: not valid JSON"):
        manifest.load(write(tmp_path, '{\n  "seed": ,\n}'))
    with pytest.raises(FileFormatError, match="NaN is not a number"):
        manifest.load(
            write(tmp_path, json.dumps(GOOD).replace('"ceiling_usd": 5.0', '"ceiling_usd": NaN'))
        )


def test_the_schema_accepts_the_real_manifest_and_rejects_what_the_loader_rejects() -> None:
    import jsonschema

    schema = json.loads((REAL_MANIFEST.parent / "manifest.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(json.loads(REAL_MANIFEST.read_text())))
    for change in (
        {"currency": "EUR"},
        {"ceiling_usd": "five"},
        {"ceiling_usd": -5},
        {"surprise": 1},
        {"vendor_snapshot_prices": {"runpod": "cheap"}},
        {"gpus": 0},
        {"ceiling_per_lab": {"02": 3, "03": 2}},  # no buffer: lab 04 would be uncapped
        {"ceiling_per_lab": {"\u0660\u0662": 3, "buffer": 2}},  # Arabic-Indic digits
    ):
        assert list(validator.iter_errors({**GOOD, **change})), change


MINIMAL = {"currency": "USD", "ceiling_usd": 5.00, "spend_log_path": "budget/spend.jsonl"}


def test_only_the_ceiling_the_currency_and_the_ledger_are_required(tmp_path: Path) -> None:
    """Issue 25: the course's fields (seed, lab, hardware target), the caps and the vendor are
    optional, so a manifest fits any repository."""
    import jsonschema

    path = tmp_path / "budget" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(MINIMAL))
    loaded = manifest.load(path)
    assert (loaded.seed, loaded.lab, loaded.hardware_target, loaded.vendor) == (None,) * 4
    assert (dict(loaded.lab_caps), loaded.price_per_gpu_hour) == ({}, None)
    assert loaded.ledger_path == str(tmp_path / "budget" / "spend.jsonl")
    assert loaded.root == tmp_path
    schema = json.loads((REAL_MANIFEST.parent / "manifest.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(MINIMAL))
    assert not list(validator.iter_errors({**MINIMAL, "vendor": "vast"}))  # no price: none
    for missing in MINIMAL:
        rest = {k: v for k, v in MINIMAL.items() if k != missing}
        assert list(validator.iter_errors(rest)), missing
        path.write_text(json.dumps(rest))
        with pytest.raises(FileFormatError, match=f"missing field {missing!r}"):
            manifest.load(path)


def test_a_vendor_without_a_price_has_none_and_a_listed_vendor_needs_its_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "budget" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**MINIMAL, "vendor": "vast"}))
    assert manifest.load(path).price_per_gpu_hour is None
    path.write_text(json.dumps({**MINIMAL, "vendor": "vast", "vendor_snapshot_prices": {"x": 1}}))
    with pytest.raises(FileFormatError, match="no price for the vendor 'vast'"):
        manifest.load(path)


def test_found_in_either_home_never_above_the_repository_s_root(tmp_path: Path) -> None:
    outer = write(tmp_path, GOOD)  # this course's folder, at the outer root
    inner = tmp_path / "vendored" / "project"
    (inner / "budget").mkdir(parents=True)
    (inner / "lib").mkdir()
    assert manifest.find(inner / "lib") == str(outer)  # no repository: the folders above
    (inner / ".git").mkdir()
    assert manifest.find(inner / "lib") is None  # a repository of its own: its root is the top
    assert manifest.repository_root(inner / "lib") == str(inner)
    (inner / "budget" / "manifest.json").write_text(json.dumps(MINIMAL))
    assert manifest.find(inner / "lib") == str(inner / "budget" / "manifest.json")
    assert manifest.default_ledger(inner / "lib") == str(inner / "budget" / "spend.jsonl")
    assert manifest.default_ledger(tmp_path / "vendored") is None  # no repository, no ledger
