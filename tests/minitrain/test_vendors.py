"""Vendor adapters against fake `runpodctl` / `vastai` on PATH printing the documented shapes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minitrain import vendors
from minitrain.errors import NotPassed
from minitrain.preflight.session import Options, run_checklist
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

FAKE_BIN = REPO / "tests" / "data" / "fake-bin"
POD = {
    "id": "pod0001",
    "name": "lab02",
    "desiredStatus": "RUNNING",
    "costPerHr": 0.7,
    "createdAt": "2026-11-28T21:00:00Z",
}
STOPPED = {**POD, "id": "pod0002", "desiredStatus": "EXITED", "costPerHr": 0.0}
VAST = {
    "id": 4242,
    "label": "lab02",
    "actual_status": "running",
    "cur_state": "running",
    "dph_total": 0.62,
    "start_date": 1764363600.0,
}


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """Put the fake CLIs on PATH; the returned function sets what the account holds."""
    state = tmp_path / "cloud.json"
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))

    def holds(
        runpod: list[object] | None = None, vast: list[object] | None = None, mode: str = ""
    ) -> Path:
        state.write_text(json.dumps({"runpod": runpod or [], "vast": vast or []}))
        monkeypatch.setenv("FAKE_VENDOR_MODE", mode)
        return state

    return holds


def test_runpod_lists_running_and_stopped_pods(cloud: object) -> None:
    cloud(runpod=[POD, STOPPED])  # type: ignore[operator]
    found = vendors.get("runpod").instances()
    assert [(i.id, i.status) for i in found] == [("pod0001", "RUNNING"), ("pod0002", "EXITED")]
    assert found[0].cost_per_hr == vendors.Decimal("0.7")


def test_vast_lists_instances(cloud: object) -> None:
    cloud(vast=[VAST])  # type: ignore[operator]
    [instance] = vendors.get("vast").instances()
    assert (instance.id, instance.status, str(instance.cost_per_hr)) == ("4242", "running", "0.62")


@pytest.mark.parametrize("vendor", ["runpod", "vast"])
def test_empty_lists(cloud: object, vendor: str) -> None:
    cloud()  # type: ignore[operator]
    assert vendors.get(vendor).instances() == []


@pytest.mark.parametrize(
    ("vendor", "mode", "message"),
    [
        (
            "runpod",
            "error",
            "listing RunPod pods failed: `runpodctl pod list --all` exited 1:"
            " Error: invalid API key (401)",
        ),
        (
            "runpod",
            "malformed",
            "printed something that is not JSON: '<html>502 Bad Gateway</html>'",
        ),
        ("vast", "error", "failed with error 401: Unauthorized"),
        ("vast", "malformed", "printed something that is not JSON: 'not json'"),
    ],
)
def test_errors_and_malformed_output_are_clear(
    cloud: object, vendor: str, mode: str, message: str
) -> None:
    cloud(runpod=[POD], vast=[VAST], mode=mode)  # type: ignore[operator]
    with pytest.raises(vendors.VendorError) as caught:
        vendors.get(vendor).instances()
    assert message in str(caught.value)


def test_missing_cli_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(vendors.VendorUnavailable, match="`runpodctl` is not installed"):
        vendors.get("runpod").instances()


def test_terminate_is_confirmed_by_listing_again(cloud: object) -> None:
    state = cloud(runpod=[POD, STOPPED])  # type: ignore[operator]
    vendors.terminate_and_confirm(vendors.get("runpod"), "pod0001")
    assert [p["id"] for p in json.loads(state.read_text())["runpod"]] == ["pod0002"]
    cloud(vast=[VAST])  # type: ignore[operator]
    vendors.terminate_and_confirm(vendors.get("vast"), "4242")


def test_a_terminate_the_list_contradicts_is_an_error(cloud: object) -> None:
    cloud(runpod=[POD], mode="ghost")  # type: ignore[operator]
    with pytest.raises(
        vendors.VendorError, match="said it terminated pod0001, but it is still listed"
    ):
        vendors.terminate_and_confirm(vendors.get("runpod"), "pod0001")


def test_an_old_vastai_without_y_is_detected(cloud: object) -> None:
    cloud(vast=[VAST], mode="old")  # type: ignore[operator]
    with pytest.raises(vendors.VendorError, match=r"too old for -y.*destroy 4242 in the console"):
        vendors.terminate_and_confirm(vendors.get("vast"), "4242")


@pytest.mark.usefixtures("file_mode")
def test_no_other_instances_is_sensed_when_the_cli_is_installed(lab: Path, cloud: object) -> None:
    cloud(runpod=[STOPPED])  # type: ignore[operator]
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(
        NotPassed, match=r"`runpodctl` lists 1 instance\(s\): pod0002 \(lab02, EXITED"
    ):
        run_checklist(Options("lab02-tp-spinup", "3.00", dry_run=True), terminal=person)
    assert "no-other-instances" not in person.asked
    cloud()  # type: ignore[operator]
    person = FakePerson(CI_ANSWERS)
    run_checklist(Options("lab02-tp-spinup", "3.00", dry_run=True), terminal=person)
    assert "no-other-instances" not in person.asked
    assert "`runpodctl` lists no instance of yours" in "\n".join(person.shown)


@pytest.mark.usefixtures("file_mode")
def test_without_the_cli_the_person_is_asked(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(lab))  # no runpodctl anywhere
    person = FakePerson(CI_ANSWERS)
    run_checklist(Options("lab02-tp-spinup", "3.00", dry_run=True), terminal=person)
    assert person.asked[0] == "no-other-instances"
    assert "`runpodctl` is not installed or not on PATH; so you are asked instead" in "\n".join(
        person.shown
    )
