"""The human-factors rules: each finding names the file, line and step."""

from __future__ import annotations

from pathlib import Path

from minitrain.preflight import checklist, lint
from tests.conftest import REPO

SLOPPY = REPO / "tests/data/checklists/lint/sloppy.yaml"


def test_shipped_checklists_are_clean() -> None:
    for name in ("pre-flight", "post-flight"):
        assert lint.lint(checklist.load(REPO / "checklists" / f"{name}.yaml")) == []


def test_each_rule_is_reported_where_it_is_broken() -> None:
    findings = [f.removeprefix(f"{SLOPPY}:") for f in lint.lint(checklist.load(SLOPPY))]
    assert findings == [
        "8: step 'alert': critical, but after the non-critical 'routine'; put critical items first",
        "8: step 'alert': a number asked as yes/no; ask it as a value step with a unit, so the"
        " person reads the figure back",
        "12: step 'hours': critical, but after the non-critical 'routine';"
        " put critical items first",
        "12: step 'hours': vague wording 'Make sure'; say exactly what to do or check",
        "12: step 'hours': a number without a unit; give it one (USD, hours, GPUs)",
    ]


def test_more_than_nine_items_is_one_finding(tmp_path: Path) -> None:
    steps = "".join(
        f"  - {{id: s{i}, kind: confirm, critical: true, say: Item {chr(97 + i)} is done.}}\n"
        for i in range(10)
    )
    path = tmp_path / "long.yaml"
    path.write_text(
        f"id: long\nversion: 1\ntitle: Long\nsteps:\n{steps}"
        "  - {id: gate, kind: gate, action: authorize, say: 'Go?'}\n"
    )
    [finding] = lint.lint(checklist.load(path))
    assert "10 items at one pause point; keep it to 9" in finding
