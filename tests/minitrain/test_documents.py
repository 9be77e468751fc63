"""The lab's documents say the numbers the code enforces (all read from the manifest)."""

from __future__ import annotations

import json
import re
from decimal import ROUND_UP, Decimal

from minitrain import manifest
from minitrain.money import format_usd
from minitrain.preflight.facts import ALERT_SHARE, HEADROOM, MAX_HOURS
from tests.conftest import REAL_MANIFEST

LAB = REAL_MANIFEST.parent
M = manifest.load(REAL_MANIFEST)
HOURS = 3  # the seed: lab 02 runs at most 3 hours
BUFFER_SHARE = Decimal("1.4")  # the seed: a 40% buffer on top


def test_manifest_has_the_seed_fields_and_values() -> None:
    data = json.loads(REAL_MANIFEST.read_text())
    assert {
        "seed",
        "lab",
        "hardware_target",
        "vendor",
        "currency",
        "ceiling_usd",
        "ceiling_per_lab",
        "spend_log_path",
        "vendor_snapshot_date",
        "vendor_snapshot_prices",
    } <= set(data)
    assert (data["seed"], data["lab"], data["currency"]) == (
        35000,
        "00-cloud-budget-and-tooling",
        "USD",
    )
    assert data["spend_log_path"] == "experiments/35-cloud-budget/spend.jsonl"
    assert M.ceiling == Decimal("5.00")


def test_budget_table_is_the_manifests_caps() -> None:
    text = (LAB / "budget.md").read_text()
    rows = dict(re.findall(r"^\| \**(.+?)\** \| \**\$(\d+\.\d\d)\** \|$", text, re.MULTILINE))
    assert Decimal(rows["Lab 02 (TP inference, 2-GPU)"]) == M.lab_caps["02"]
    assert Decimal(rows["Lab 03 (Megatron+FSDP reading)"]) == M.lab_caps["03"]
    assert Decimal(rows["Buffer for retries / setup tax"]) == M.lab_caps["buffer"]
    assert Decimal(rows["Total Phase 35 cloud budget"]) == M.ceiling


def test_budget_reasoning_is_recomputed_from_the_manifest_price() -> None:
    text = (LAB / "budget.md").read_text()
    price, gpus = M.price_per_gpu_hour, M.gpus
    run = price * gpus * HOURS
    assert f"{gpus}× RTX 4090 at ${price}/hr each × {HOURS} hours = {format_usd(run)}" in text
    assert format_usd(run * BUFFER_SHARE) in text
    assert (run * BUFFER_SHARE).quantize(Decimal(1), rounding=ROUND_UP) == M.lab_caps["02"]
    hourly = price * gpus
    assert f"{format_usd(hourly)}/hour" in text
    assert (
        f"{(M.lab_caps['02'] / hourly).quantize(Decimal('0.1'), rounding='ROUND_DOWN')} hours"
        in text
    )
    assert format_usd(hourly * MAX_HOURS) in text
    assert format_usd(M.lab_caps["02"] * ALERT_SHARE) in text
    assert format_usd(M.lab_caps["buffer"] * ALERT_SHARE) in text
    assert format_usd(M.lab_caps["02"] * HEADROOM) in text


def test_vendor_survey_recommends_the_manifests_vendor_and_price() -> None:
    text = (LAB / "vendor-survey.md").read_text()
    assert f"**Snapshot date:** {M.snapshot_date}" in text
    assert M.vendor == "runpod"
    assert "**We pick\nRunPod spot, 2× RTX 4090**" in text
    assert (
        f"**${M.price_per_gpu_hour} per GPU-hour ({format_usd(M.price_per_gpu_hour * M.gpus)}/hour"
        in text
    )
    for vendor, price in M.prices.items():
        if vendor != M.vendor:
            assert f"${price}" in text, vendor


def test_the_ledger_merges_by_union_in_git() -> None:
    attributes = (LAB.parent.parent / ".gitattributes").read_text()
    assert "experiments/35-cloud-budget/spend.jsonl merge=union" in attributes


def test_every_test_the_guarantees_name_exists() -> None:
    readme = (LAB.parent.parent / "docs" / "guarantees.md").read_text()
    tests = LAB.parent.parent / "tests"
    names = set(re.findall(r"::(test_\w+)", readme))
    assert names, "the Guarantees page names its tests"
    defined = {
        m for p in tests.rglob("test_*.py") for m in re.findall(r"def (test_\w+)", p.read_text())
    }
    assert names <= defined, sorted(names - defined)
    for path in re.findall(r"`(tests/[\w/.-]+\.(?:py|jsonl|json))[`:]", readme):
        assert (LAB.parent.parent / path).exists(), path
