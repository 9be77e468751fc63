"""The whole day at a real terminal (issue 23): the label and the estimate are typed once, at the
pre-flight; `budget launch -- <create>` and `preflight run post-flight` take them from the open
reservation; the ledger ends with one reservation and one actual."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect
import pytest

from tests.conftest import REPO
from tests.minitrain.cli.test_preflight_terminal import PROMPTS, answer

pytestmark = pytest.mark.usefixtures("file_mode")
BIN = Path(sys.executable).parent
FAKE_BIN = REPO / "tests" / "data" / "fake-bin"  # runpodctl v2.7.2's formats, cited there


def test_the_whole_day_types_the_label_and_estimate_once(lab: Path, tmp_path: Path) -> None:
    state = tmp_path / "cloud.json"
    state.write_text(json.dumps({"runpod": []}))
    env = {
        "PATH": f"{BIN}{os.pathsep}{FAKE_BIN}{os.pathsep}/usr/bin:/bin",
        "TERM": "xterm",
        "HOME": str(lab / "home"),
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "FAKE_VENDOR_STATE": str(state),
    }

    def spawn(program: str, *args: str) -> pexpect.spawn:
        return pexpect.spawn(
            str(BIN / program),
            list(args),
            cwd=str(lab),
            env=env,
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 200),
        )

    day = spawn("preflight", "run", "--label", "lab02-tp-spinup", "--estimate", "3.00")
    for step, prompt, keys in PROMPTS:
        if step != "no-other-instances":  # sensed: runpodctl lists no pod of this account
            answer(day, prompt, keys)
    day.expect_exact("authorized lab02-tp-spinup $3.00; remaining $2.00 of $5.00")
    day.expect_exact("next: budget launch -- ")
    day.expect(pexpect.EOF)

    in_3h = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create = ["runpodctl", "pod", "create", "--name", "lab02", "--image", "runpod/pytorch"]
    launch = spawn(
        "budget", "launch", "--", *create, "--gpu-count", "2", "--terminate-after", in_3h
    )
    launch.expect_exact("launched lab02-tp-spinup: instance pod0001; $3.00 stays reserved")
    launch.expect_exact("next: preflight run post-start")
    launch.expect(pexpect.EOF)

    # the work is done: the person ends the pod at the console and saves the proof
    subprocess.run(
        ["runpodctl", "pod", "delete", "pod0001"], env=env, check=True, capture_output=True
    )
    proof = lab / "experiments/35-tp-inference/proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"png")

    post = spawn("preflight", "run", "post-flight")
    answer(post, "actually cost", "2.47")
    post.expect_exact("type record")
    post.send("record")  # typed, then Enter in a read of its own, as a hand does
    post.expect_exact("record")
    post.send("\r")
    post.expect_exact("recorded lab02-tp-spinup actual $2.47")
    post.expect(pexpect.EOF)
    post.close()
    assert post.exitstatus == 0

    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(x["kind"], x["op_label"], x.get("actual")) for x in lines] == [
        ("authorize", "lab02-tp-spinup", None),
        ("actual", "lab02-tp-spinup", "2.47"),
    ]
