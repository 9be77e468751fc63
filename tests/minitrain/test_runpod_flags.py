"""`runpodctl pod create` read as the vendor reads it (issue 22): pflag's rules (the last value
of a repeated flag wins, `--flag v` and `--flag=v`), then runCreate's own normalising
(cmd/pod/create.go, v2.7.2), against the fake runpodctl whose flag reading is pflag's too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minitrain.cli.budget import main
from minitrain.errors import InputError
from minitrain.vendors import pflag, runpod
from tests.minitrain.test_launch import LAUNCH, cloud, launch_records, passed_preflight

__all__ = ["cloud"]  # the fixture, imported
pytestmark = pytest.mark.usefixtures("file_mode")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SOON = "2026-11-29T14:00:00Z"
FLAGS = {"a": pflag.Flag(True), "b": pflag.Flag(False), "output": pflag.Flag(True, "o")}


@pytest.mark.parametrize(
    ("args", "values", "positional"),
    [
        (["--a", "1", "--a", "2"], {"a": "2"}, []),  # the last value wins
        (["--a=x=y"], {"a": "x=y"}, []),
        (["--a", "--b"], {"a": "--b"}, []),  # a value flag takes the next word, whatever it is
        (["--b", "word"], {"b": "true"}, ["word"]),  # a boolean takes none
        (["--b=false"], {"b": "false"}, []),
        (["-o", "yaml", "-ojson"], {"output": "json"}, []),
        (["x", "--", "--a", "1"], {}, ["x", "--a", "1"]),
    ],
)
def test_pflag_reads_a_command_line(
    args: list[str], values: dict[str, str], positional: list[str]
) -> None:
    assert pflag.parse(args, FLAGS) == pflag.Read(values, positional)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--c"], "unknown flag: --c"),
        (["--a"], "flag needs an argument: --a"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
    ],
)
def test_pflag_refuses_what_pflag_refuses(args: list[str], error: str) -> None:
    assert pflag.parse(args, FLAGS).error == error


def auto(*args: str) -> object:
    return runpod.auto_termination(
        ["runpodctl", "pod", "create", "--image", "x", *args], now=NOW, max_hours=4
    )


@pytest.mark.parametrize(
    ("args", "why"),
    [
        # the pod would end in 2030: the second value is the one runpodctl sends
        (("--terminate-after", SOON, "--terminate-after", "2030-01-01T00:00:00Z"), "more than 4 h"),
        (("--terminate-after", SOON, "--terminate-after="), "without --terminate-after"),
        # CPU pods are created through REST, which has no terminateAfter
        (("--terminate-after", SOON, "--compute-type", "GPU", "--compute-type", "CPU"), "GPU"),
        (("--terminate-after", SOON, "--compute-type", " cpu"), "only for GPU pods"),
        # they pass fromisoformat but are not RFC3339
        (("--terminate-after", "2026-11-29 13:42Z"), "is not an RFC3339 time"),
        (("--terminate-after", "20261129T134249Z"), "is not an RFC3339 time"),
        (("--terminate-after", "2026-11-29T13:42:00"), "is not an RFC3339 time"),
        (("--terminate-after", SOON, "stray"), "runpodctl would refuse this create"),
        (("--terminate-after", SOON, "--compute-type", "TPU"), "would refuse --compute-type"),
        (("--terminate-after", SOON, "--gpu"), "unknown flag: --gpu"),
    ],
)
def test_a_create_is_read_as_runpodctl_reads_it(args: tuple[str, ...], why: str) -> None:
    with pytest.raises(InputError, match=why):
        auto(*args)


def test_the_forms_runpodctl_accepts_are_proven() -> None:
    assert auto("--terminate-after=2026-11-29T13:00:00.5+01:00", "--compute-type", " gpu ")
    found = auto("--terminate-after", "2030-01-01T00:00:00Z", "--terminate-after", SOON)
    assert found is not None
    assert found.until == SOON  # type: ignore[attr-defined]


def test_the_pod_gets_the_cap_the_record_says(
    lab: Path, cloud: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed_preflight()
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create = ["runpodctl", "pod", "create", "--image=runpod/pytorch", "--terminate-after"]
    assert main([*LAUNCH, *create, "2030-01-01T00:00:00Z", f"--terminate-after={soon}"]) == 0
    [pod] = json.loads(cloud.read_text())["runpod"]
    [record] = launch_records(lab)
    assert pod["terminateAfter"] == soon == record["auto_termination"]["until"]  # type: ignore[index]
    assert record["auto_termination"]["how"] == "by the vendor"  # type: ignore[index]
