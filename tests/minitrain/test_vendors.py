"""Vendor adapters: `runpodctl` through a fake that prints runpodctl v2's own formats (each cited
in tests/data/fake-bin/runpodctl), `vastai` as the real CLI against a stand-in of its API.

A listing is trusted only when it proves itself; every failure says what the CLI printed."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import vendors
from minitrain._commands import Ran
from minitrain.errors import InputError
from minitrain.vendors import runpod
from tests.minitrain.conftest import FAKE_BIN
from tests.vast_api import VastApi

POD = {
    "id": "pod0001",
    "name": "lab02",
    "desiredStatus": "RUNNING",
    "costPerHr": 0.7,
    "createdAt": "2026-11-28T21:00:00Z",
}
STOPPED = {**POD, "id": "pod0002", "desiredStatus": "EXITED", "costPerHr": 0}
VAST = {"id": 4242, "label": "lab02", "actual_status": "running", "dph_total": 0.62}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """The fake runpodctl on PATH; the returned function sets the pods and the failure mode."""
    state = tmp_path / "cloud.json"
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))

    def holds(runpod: list[object] | None = None, mode: str = "") -> Path:
        state.write_text(json.dumps({"runpod": runpod or []}))
        monkeypatch.setenv("FAKE_VENDOR_MODE", mode)
        return state

    return holds


# --- runpodctl: formats from runpod/runpodctl cmd/pod/list.go, cmd/pod/delete.go, cmd/root.go


def test_runpod_lists_running_and_stopped_pods(cloud: object) -> None:
    """cmd/pod/list.go: `--all` includes stopped pods; costPerHr is omitted when 0."""
    cloud(runpod=[POD, STOPPED])  # type: ignore[operator]
    found = vendors.get("runpod").instances()
    assert [(i.id, i.status) for i in found] == [("pod0001", "RUNNING"), ("pod0002", "EXITED")]
    assert (found[0].cost_per_hr, found[1].cost_per_hr) == (Decimal("0.7"), None)


def test_runpod_empty_list_is_an_empty_json_list(cloud: object) -> None:
    """cmd/pod/list.go builds `make([]podListOutput, 0, ...)`: an empty account prints `[]`."""
    cloud()  # type: ignore[operator]
    assert vendors.get("runpod").instances() == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        # internal/api/client.go request + internal/output/output.go Error (v2.7.2)
        ("401", 'runpodctl: api error: {"error":"Unauthorized"} (status 401)'),
        ("500", 'runpodctl: api error: {"error":"Internal Server Error"} (status 500)'),
        # a v1.x runpodctl has no `pod` command; v2.0 has no `pod list --all` (v2.1.0)
        ("v1", "this runpodctl has no `pod` command (it is v1.x): `pod list --all` needs v2.1.0"),
        ("v2.0", "this runpodctl has no `pod list --all` (added in v2.1.0): upgrade it"),
    ],
)
def test_runpod_errors_are_failed_listings_that_say_what_it_printed(
    cloud: object, mode: str, message: str
) -> None:
    cloud(runpod=[POD], mode=mode)  # type: ignore[operator]
    with pytest.raises(vendors.VendorError) as caught:
        vendors.get("runpod").instances()
    assert message in str(caught.value)
    assert "Usage:" not in str(caught.value)  # no usage dump


@pytest.mark.parametrize(
    ("stdout", "problem"),
    [
        ("", "printed nothing, so it proves nothing"),
        ("<html>502 Bad Gateway</html>", "printed something that is not JSON"),
        ('{"pods": []}', "printed JSON that is not a list of instances"),
        ('[{"name": "x"}]', "printed JSON that is not a list of instances"),
    ],
)
def test_output_that_is_not_the_documented_list_proves_nothing(stdout: str, problem: str) -> None:
    with pytest.raises(vendors.VendorError, match=problem):
        vendors.read_list(stdout, command="runpodctl pod list --all")


def test_runpod_terminate_is_confirmed_by_listing_again(cloud: object) -> None:
    """cmd/pod/delete.go prints {"deleted": true, "id": ID}; the list must agree."""
    state = cloud(runpod=[POD, STOPPED])  # type: ignore[operator]
    vendors.terminate_and_confirm(vendors.get("runpod"), "pod0001")
    assert [p["id"] for p in json.loads(state.read_text())["runpod"]] == ["pod0002"]


def test_a_terminate_the_list_contradicts_is_an_error(cloud: object) -> None:
    cloud(runpod=[POD], mode="ghost")  # type: ignore[operator]
    with pytest.raises(vendors.VendorError, match="said it terminated pod0001, but it is still"):
        vendors.terminate_and_confirm(vendors.get("runpod"), "pod0001")


def test_missing_cli_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(vendors.VendorUnavailable, match="`runpodctl` is not installed"):
        vendors.get("runpod").instances()


def ran(stdout: str = "", stderr: str = "", status: int = 0) -> Ran:
    return Ran(("runpodctl", "pod", "create"), status, stdout, stderr)


def test_runpod_create_id_comes_from_stdout_json_with_notes_on_stderr() -> None:
    """cmd/pod/create.go: indented JSON on stdout, `note: ...` lines on stderr."""
    created = vendors.get("runpod").created(
        ran(
            json.dumps({"desiredStatus": "RUNNING", "id": "xk9q2m7a"}, indent=2, sort_keys=True),
            "note: secure cloud pods always have public ips; --public-ip has no effect\n",
        )
    )
    assert created == vendors.Created("xk9q2m7a")


def test_runpod_create_failure_reads_v2_7_2s_two_error_lines() -> None:
    """cmd/pod/create.go output.Error, cobra's usage, then cmd/root.go Execute's printf line,
    which is not JSON when the message holds a quote."""
    body = '{"error":"no gpu available"}'
    err = (
        json.dumps({"error": f"api error: {body} (status 500)"}, separators=(",", ":"))
        + "\nUsage:\n  runpodctl pod create [flags]\n\n"
        + f'{{"error":"failed to create pod: api error: {body} (status 500)"}}\n'
    )
    created = vendors.get("runpod").created(ran("", err, 1))
    assert created.instance_id is None
    assert created.problem == f"runpodctl: api error: {body} (status 500)"


def test_an_error_caught_before_the_json_helper_is_read_from_the_printf_line() -> None:
    printed = '{"error":"invalid --compute-type "X" (use GPU or CPU)"}'
    err = f"Usage:\n  runpodctl pod create [flags]\n\n{printed}\n"
    created = vendors.get("runpod").created(ran("", err, 1))
    assert created.problem == 'runpodctl: invalid --compute-type "X" (use GPU or CPU)'


def test_runpod_create_with_no_id_is_a_failure() -> None:
    created = vendors.get("runpod").created(ran("pod created\n"))
    assert created.instance_id is None
    assert "printed no pod JSON with an id on stdout: 'pod created'" in created.problem


# --- auto-termination, proven by `runpodctl pod create --terminate-after` (cmd/pod/create.go)


def auto(*args: str) -> vendors.AutoTermination | None:
    return runpod.auto_termination(
        ["runpodctl", "pod", "create", "--image", "x", *args], now=NOW, max_hours=4
    )


def test_terminate_after_within_the_max_is_proven() -> None:
    found = auto("--terminate-after", "2026-11-29T15:30:00Z")
    assert found == vendors.AutoTermination(
        "by the vendor",
        "2026-11-29T15:30:00Z",
        "runpodctl pod create --terminate-after 2026-11-29T15:30:00Z",
    )
    assert auto("--terminate-after=2026-11-29T16:00:00+00:00") is not None


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((), "without --terminate-after runs until someone deletes it: add"),
        (("--stop-after", "2026-11-29T13:00:00Z"), "--stop-after only stops it: its disk still"),
        (("--terminate-after", "2026-11-29T16:01:00Z"), "is more than 4 h from now"),
        (("--terminate-after", "2026-11-29T11:00:00Z"), "is not in the future"),
        (("--terminate-after", "tomorrow"), "is not an RFC3339 time"),
        (("--terminate-after", "2026-11-29T13:00:00Z", "--compute-type", "cpu"), "only for GPU"),
    ],
)
def test_a_create_without_a_proven_auto_termination_is_refused(
    args: tuple[str, ...], why: str
) -> None:
    with pytest.raises(InputError, match=why) as caught:
        auto(*args)
    if "GPU" not in why:
        assert "--terminate-after 2026-11-29T16:00:00Z" in str(caught.value)


def test_other_commands_prove_nothing_and_are_not_refused() -> None:
    assert runpod.auto_termination(["vastai", "create", "instance", "1"], now=NOW, max_hours=4) is (
        None
    )
    with pytest.raises(InputError, match="use `runpodctl pod create"):
        runpod.auto_termination(["runpodctl", "create", "pod"], now=NOW, max_hours=4)


# --- vastai: the real CLI (vast-ai/vast-cli 1.9.1) against a stand-in API


def test_vast_lists_instances(vast: VastApi) -> None:
    """vastai/cli/main.py prints --raw results with json.dumps(indent=1, sort_keys=True)."""
    vast.instances = [VAST]
    [instance] = vendors.get("vast").instances()
    assert (instance.id, instance.status, str(instance.cost_per_hr)) == ("4242", "running", "0.62")
    vast.instances = []
    assert vendors.get("vast").instances() == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("401", "vastai: Invalid user key (HTTP 401)"),
        ("500", "vastai: (no detail message supplied) (HTTP 500)"),
        ("html", "vastai: the API answered with something that is not JSON"),
    ],
)
def test_vast_http_failures_exit_0_and_are_failed_listings(
    vast: VastApi, mode: str, message: str
) -> None:
    """vastai/cli/main.py: _emit_error, then `break`: exit 0, nothing on stdout."""
    vast.instances, vast.mode = [VAST], mode
    with pytest.raises(vendors.VendorError) as caught:
        vendors.get("vast").instances()
    assert message in str(caught.value)
    assert "exited 0" in str(caught.value)


def test_vast_with_no_network_names_the_last_traceback_line(
    vast: VastApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAST_URL", "http://127.0.0.1:9")  # nothing listens: connection refused
    with pytest.raises(vendors.VendorError, match=r"vastai crashed: requests\.exceptions\."):
        vendors.get("vast").instances()


def test_vast_terminate_is_confirmed_and_a_ghost_is_caught(vast: VastApi) -> None:
    """`destroy instance ID -y` prints `destroying instance N.`; the list must agree."""
    vast.instances = [VAST]
    vendors.terminate_and_confirm(vendors.get("vast"), "4242")
    assert vast.instances == []
    vast.instances, vast.destroy_ignored = [VAST], True
    with pytest.raises(vendors.VendorError, match="said it terminated 4242, but it is still"):
        vendors.terminate_and_confirm(vendors.get("vast"), "4242")


def test_vast_terminate_refused_by_the_api_is_not_a_termination(vast: VastApi) -> None:
    vast.instances, vast.mode = [VAST], "401"
    with pytest.raises(vendors.VendorError, match=r"vastai: Invalid user key \(HTTP 401\)"):
        vendors.terminate_and_confirm(vendors.get("vast"), "4242")


def test_vast_create_reads_new_contract(vast: VastApi, tmp_path: Path) -> None:
    """`create instance` prints "Started. {'success': True, 'new_contract': N}"."""
    from minitrain._commands import run

    argv = ["vastai", "create", "instance", "123", "--image", "pytorch/pytorch"]
    created = vendors.get("vast").created(run(argv, timeout=60))
    assert created == vendors.Created("7835610")
    vast.mode = "401"
    refused = vendors.get("vast").created(run(argv, timeout=60))
    assert refused.instance_id is None
    assert refused.problem.startswith("vastai: Invalid user key (HTTP 401)")


OLD_VASTAI = """\
import argparse, json, os, urllib.request
# vastai 1.0.0 (vastai/cli/commands/instances.py destroy__instance, destroy_instance_impl): no
# -y, no prompt; argparse rejects -y with its usage line and exit 2
p = argparse.ArgumentParser(prog="vastai")
p.add_argument("words", nargs="*")
p.add_argument("--raw", action="store_true")
a = p.parse_args()
q = urllib.request.Request(
    os.environ["VAST_URL"] + f"/api/v0/instances/{a.words[2]}/", b"{}", method="DELETE",
    headers={"Authorization": "Bearer " + os.environ["VAST_API_KEY"]},
)
rj = json.loads(urllib.request.urlopen(q).read())
print(f"destroying instance {a.words[2]}." if rj.get("success") else rj.get("msg", rj))
"""


def test_a_vastai_before_1_0_1_destroys_in_its_own_form(
    vast: VastApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: it has no -y and destroys without a prompt; "-y" was called a destroy that
    "does nothing", so the watcher could never terminate with such a CLI."""
    old = tmp_path / "old-bin" / "vastai"
    old.parent.mkdir()
    old.write_text(f"#!{sys.executable}\n{OLD_VASTAI}")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    vast.instances = [VAST]
    assert vendors.get("vast").terminate("4242") is False
    assert vast.instances == []
    assert vast.calls == ["DELETE /api/v0/instances/4242/"]  # -y refused before any call


def test_the_vendor_of_a_create_command_is_its_cli() -> None:
    assert vendors.of_command(["vastai", "create", "instance", "1"], "runpod") == "vast"
    assert vendors.of_command(["/usr/local/bin/runpodctl", "pod", "create"], "vast") == "runpod"
    assert vendors.of_command([sys.executable, "-c", "pass"], "runpod") == "runpod"


def test_vast_create_raw_is_the_same_dict_as_indented_json() -> None:
    """vastai/cli/main.py run_command: with --raw, json.dumps(res, indent=1, sort_keys=True)."""
    stdout = json.dumps({"success": True, "new_contract": 7835610}, indent=1, sort_keys=True)
    created = vendors.get("vast").created(Ran(("vastai",), 0, stdout + "\n", ""))
    assert created == vendors.Created("7835610")


def test_vast_destroy_without_y_aborts_and_that_is_said(
    vast: VastApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real CLI without -y and a terminal prints `Aborted.`, exits 0 and destroys nothing
    (vastai/cli/commands/instances.py destroy__instance)."""
    from minitrain.vendors import vast as adapter

    real = adapter.run

    def without_y(argv: list[str], **kwargs: object) -> Ran:
        return real([a for a in argv if a != "-y"], **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(adapter, "run", without_y)
    vast.instances = [VAST]
    with pytest.raises(vendors.VendorError, match=r"answered 'Aborted\.': instance 4242 was NOT"):
        vendors.get("vast").terminate("4242")
    assert vast.instances == [VAST]


def test_each_vendor_has_its_adapter_and_an_unknown_one_is_named() -> None:
    assert [vendors.get(name).name for name in vendors.ADAPTERS] == ["runpod", "vast"]
    with pytest.raises(
        InputError, match="no adapter for vendor 'lambda'; the adapters are runpod, vast"
    ):
        vendors.get("lambda")
