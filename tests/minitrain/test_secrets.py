"""Nothing leaks: vendor credentials never reach a record or the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from minitrain._secrets import redact
from minitrain.preflight.session import Options, run_checklist
from tests.minitrain.preflight.conftest import FakePerson

KEY = "rpa_ABCDEF0123456789ABCDEF0123"


def test_redact_env_secrets_and_key_shapes() -> None:
    env = {
        "RUNPOD_API_KEY": "s3cr3t-value",
        "VAST_TOKEN": "tok-9876543210",
        "HOME": "/root",
        "PIN": "1",
        "DB_PASSWORD": "short",
    }
    text = f"key s3cr3t-value, token tok-9876543210, home /root, a short password, pasted {KEY}"
    assert redact(text, env) == (
        "key [redacted $RUNPOD_API_KEY], token [redacted $VAST_TOKEN], home /root,"
        " a short password, pasted [redacted API key]"
    )


@pytest.mark.usefixtures("file_mode")
def test_a_record_never_holds_a_credential(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "s3cr3t-value")
    checklist = lab / "checklists" / "leak.yaml"
    checklist.write_text(
        f"""id: leak
version: 1
title: A vendor CLI that prints its key
steps:
  - id: pods
    kind: sensed
    sense: command
    command: [{sys.executable!r}, -c, "import os; print('[] key=' + os.environ['RUNPOD_API_KEY'])"]
    say: No pods run.
  - id: termination-plan
    kind: value
    type: text
    critical: true
    say: How will it end?
  - id: gate
    kind: gate
    action: authorize
    say: Go?
"""
    )
    person = FakePerson(
        {"termination-plan": f"runpodctl --apiKey {KEY} pod delete x", "gate": "authorize"}
    )
    outcome = run_checklist(
        Options("lab02-tp-spinup", "1.00", checklist=checklist), terminal=person
    )
    text = outcome.record.read_text()
    assert "s3cr3t-value" not in text
    assert KEY not in text
    assert "[redacted $RUNPOD_API_KEY]" in json.loads(text)["steps"][0]["answer"]
    ledger = (lab / "experiments/35-cloud-budget/spend.jsonl").read_text()
    assert "s3cr3t-value" not in ledger
    assert KEY not in ledger
