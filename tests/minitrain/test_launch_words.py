"""What `budget launch` says (issue 23's wording seen in a real run): a missing vendor CLI ran
nothing, and `--watch` leaves no stray warning behind. (Kept apart from test_launch.py, which
issue 22's rework of launches is changing.)"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from minitrain.cli.budget import main
from tests.minitrain.test_launch import CREATE, FAKE_BIN, LAUNCH, ledger, passed_preflight

pytestmark = pytest.mark.usefixtures("file_mode")


def test_a_create_whose_cli_is_not_installed_says_nothing_ran(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23: "whether an instance was created is unknown" when `runpodctl` was not there:
    nothing ran, so nothing was created."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no runpodctl
    passed_preflight()
    capsys.readouterr()
    assert main([*LAUNCH, *CREATE]) == 1
    said = capsys.readouterr().out
    assert "unknown" not in said, said
    assert "runpodctl is not installed here, so nothing ran and nothing was created" in said
    assert "pre-flight stays usable: install it and launch again" in said
    assert ledger(lab).read_text().count('"kind":"authorize"') == 1  # the reservation stays


def test_launch_watch_leaves_no_stray_warning(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23: `budget: warning: subprocess N is still running` after `launch --watch`: the
    watcher is meant to outlive the command."""
    state = tmp_path / "cloud.json"
    state.write_text('{"runpod": []}')
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    passed_preflight()
    capsys.readouterr()
    assert main([*LAUNCH[:-1], "--watch", "--", *CREATE]) == 0
    out, err = capsys.readouterr()
    pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
    try:
        assert "warning" not in err
    finally:
        os.kill(pid, signal.SIGTERM)
