"""Hardware confirmation from nvidia-smi output: real H200 capture plus 2-GPU fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minitrain import hardware
from minitrain.cli.preflight import main
from minitrain.errors import InputError
from minitrain.preflight.session import Options, run_checklist
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import FakePerson

FIXTURES = REPO / "tests" / "data" / "nvidia-smi"
FAKE_BIN = REPO / "tests" / "data" / "fake-bin"


def fixture(name: str) -> hardware.Hardware:
    folder = FIXTURES / name
    return hardware.Hardware(
        hardware.parse_query((folder / "query-gpu-noheader.csv").read_text()),
        hardware.parse_topo((folder / "topo-m.txt").read_text()),
    )


@pytest.fixture
def nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")

    def use(name: str) -> None:
        monkeypatch.setenv("FAKE_NVIDIA_SMI_DIR", str(FIXTURES / name))

    return use


def test_the_real_h200_capture() -> None:
    found = fixture("h200")
    assert found.gpus == (hardware.Gpu("NVIDIA H200", 143771),)
    assert found.pair_link is None
    assert not found.nvlink  # one GPU: no pair, and the ANSI-underlined header was understood


@pytest.mark.parametrize(
    ("name", "link", "nvlink"),
    [("2x-rtx4090-pcie", "PHB", False), ("2x-a100-nvlink", "NV12", True)],
)
def test_two_gpu_links(name: str, link: str, nvlink: bool) -> None:
    found = fixture(name)
    assert len(found.gpus) == 2
    assert (found.pair_link, found.nvlink) == (link, nvlink)
    assert found.links[(1, 0)] == link


def test_compare_says_what_was_paid_for_and_what_is_there() -> None:
    target = hardware.Target("RTX 4090", 2, 24000, None)
    assert hardware.compare(fixture("2x-rtx4090-pcie"), target) == []
    assert hardware.compare(fixture("h200"), target) == ["2x RTX 4090 expected"]
    needs_nvlink = hardware.Target("RTX 4090", 2, None, True)
    assert hardware.compare(fixture("2x-rtx4090-pcie"), needs_nvlink) == [
        "NVLink between GPU0 and GPU1 expected (tensor parallelism pays for PCIe)"
    ]
    big = hardware.Target("A100", 2, 80000, None)
    assert hardware.compare(fixture("2x-a100-nvlink"), big) == [">= 80000 MiB per GPU expected"]


def test_malformed_output_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="line 1 is not 'name, MiB'"):
        hardware.parse_query("NVIDIA H200\n")
    with pytest.raises(InputError, match="no GPU0 header"):
        hardware.parse_topo("No devices were found\n")


def test_cli_against_a_fake_nvidia_smi(
    nvidia_smi: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    nvidia_smi("h200")  # type: ignore[operator]
    assert main(["hardware", "--gpu", "RTX 4090", "--count", "2"]) == 1
    out, err = capsys.readouterr()
    assert out == "found: 1x NVIDIA H200 (143771 MiB each)\n"
    assert err == (
        "preflight: error: paid for 2x RTX 4090; found 1x NVIDIA H200 (143771 MiB each):"
        " 2x RTX 4090 expected\n"
    )
    nvidia_smi("2x-rtx4090-pcie")  # type: ignore[operator]
    assert main(["hardware", "--gpu", "RTX 4090", "--count", "2", "--no-nvlink", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["gpu0_gpu1"], data["nvlink"], data["problems"]) == ("PHB", False, [])


def test_without_nvidia_smi_says_where_to_run_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["hardware", "--gpu", "H200", "--count", "1"]) == 2
    assert (
        "nvidia-smi is not installed here: run this on the GPU instance" in capsys.readouterr().err
    )


@pytest.mark.usefixtures("file_mode")
def test_post_start_checklist_senses_the_hardware(lab: Path, nvidia_smi: object) -> None:
    path = lab / "experiments/35-cloud-budget/manifest.json"
    data = json.loads(path.read_text())
    data["hardware_target"] = {"gpu": "RTX 4090", "count": 2, "memory_mib": 24000, "nvlink": False}
    path.write_text(json.dumps(data))
    checklist = lab / "checklists" / "post-start.yaml"
    nvidia_smi("2x-rtx4090-pcie")  # type: ignore[operator]
    person = FakePerson({"instance-id": "pod-abc123", "gate": "confirm"})
    outcome = run_checklist(
        Options("lab02-tp-spinup", "3.00", checklist=checklist), terminal=person
    )
    assert outcome.status == "confirmed"
    nvidia_smi("h200")  # type: ignore[operator]
    with pytest.raises(
        hardware.NotPassed if hasattr(hardware, "NotPassed") else Exception,
        match=r"paid for 2x RTX 4090, >= 24000 MiB each, PCIe is fine; found 1x",
    ):
        run_checklist(
            Options("lab02-tp-spinup", "3.00", checklist=checklist), terminal=FakePerson({})
        )
