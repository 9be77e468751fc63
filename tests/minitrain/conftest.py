"""The real `vastai` CLI (a test dependency) against a stand-in of its API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from tests.conftest import REPO
from tests.vast_api import Served, VastApi

FAKE_BIN = REPO / "tests" / "data" / "fake-bin"


@pytest.fixture
def vast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[VastApi]:
    """`vastai` on PATH (before the fakes of runpodctl and nvidia-smi), pointed at a stand-in
    API through VAST_URL, its key in VAST_API_KEY, its settings under this test's home."""
    pytest.importorskip("vastai", reason="the test extra installs vastai")
    script = Path(sys.executable).parent / "vastai"
    real = script if script.exists() else shutil.which("vastai")
    if real is None:
        pytest.skip("the vastai package is importable but its `vastai` script is not installed")
    bin_dir = tmp_path / "vast-bin"
    bin_dir.mkdir()
    (bin_dir / "vastai").symlink_to(real)
    home = Path(os.environ["HOME"])
    api = VastApi()
    served = Served(api)
    api.url = served.url
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(FAKE_BIN), os.environ["PATH"]]))
    monkeypatch.setenv("VAST_URL", served.url)  # vastai/api/client.py: server_url_default
    monkeypatch.setenv("VAST_API_KEY", "test-key-not-real-0001")  # vastai/cli/main.py --api-key
    monkeypatch.setenv("VASTAI_NO_UPDATE_CHECK", "1")  # vastai/cli/selfupdate.py
    for name, folder in (
        ("XDG_CONFIG_HOME", ".config"),  # vastai/cli/util.py DIRS, the key file's folder
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(name, str(home / folder))
    yield api
    served.stop()


def vast_lab(lab: Path) -> Path:
    """The lab with Vast.ai as the manifest's vendor (price 0.31/GPU-hour, 2 GPUs)."""
    manifest = lab / "experiments/35-cloud-budget/manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "vendor": "vast"}))
    return lab


# The ledger and guard of the guard and ledger unit tests (a test may define its own).
@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "spend.jsonl"


@pytest.fixture
def guard(ledger: Path) -> BudgetGuard:
    return BudgetGuard(5.00, ledger)
