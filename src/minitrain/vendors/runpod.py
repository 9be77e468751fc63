"""RunPod through ``runpodctl`` v2 (runpod/runpodctl, read at the v2.7.2 tag): `pod list --all`,
`pod delete ID`, and what `pod create` prints and is asked for. Each format names its source.

- JSON is the default output, indented (``cmd/root.go``: ``-o`` defaults to ``json``;
  ``internal/output/output.go``: ``printJSON`` indents by two spaces).
- ``pod list`` shows running pods only unless ``--all`` (added in v2.1.0; ``cmd/pod/list.go``);
  stopped pods still bill their disk, so this lists them all. An empty list, and a ``null``
  reply, print ``[]`` (``make(...)`` in ``runList``); ``costPerHr`` is omitted when 0. Fields
  used: id, name, desiredStatus, costPerHr.
- An error, v2.7.2: a command that calls ``output.Error`` prints ``{"error":"..."}`` (Go's
  ``json.Encoder``, one line), then cobra prints the usage text (``SilenceUsage`` is not set),
  then ``cmd/root.go`` ``Execute`` prints a second line with ``fmt.Fprintf(os.Stderr,
  `{"error":"%s"}`)``: not valid JSON when the message holds a quote, and wrapped for create and
  delete (``failed to create pod: ...``); exit 1. An error found before the helper (a flag
  pflag rejects, a validation in ``runCreate``) prints only the usage and that second line.
  An HTTP failure reads ``api error: <body> (status N)`` (``internal/api/client.go``
  ``request``). The ``{"error","code","status"}`` object is not in any release.
- ``pod delete ID`` prints ``{"deleted": true, "id": ID}`` (``cmd/pod/delete.go``).
- ``pod create`` prints the new pod as an indented JSON object with its ``id``
  (``cmd/pod/create.go``). Its flags are read by pflag (``vendors/pflag.py``), then
  ``runCreate`` trims and upper-cases ``--compute-type`` and ``--cloud-type`` and trims
  ``--gpu-id``; ``--terminate-after`` (v2.3.0) goes to the API untouched, and only on the GPU
  path (GraphQL ``terminateAfter``): a CPU pod is created through REST without it.
- v1.x has no ``pod`` command at all (``get pod`` printed a table): cobra answers
  ``Error: unknown command "pod" for "runpodctl"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from minitrain._commands import Ran, one_line
from minitrain._struct import Struct, replace
from minitrain.errors import InputError
from minitrain.vendors import pflag
from minitrain.vendors.contract import (
    AutoTermination,
    Created,
    Instance,
    VendorError,
    json_objects,
    money,
    read_list,
    run,
    stderr_error,
)

LIST = ["runpodctl", "pod", "list", "--all"]
_PRINTED = re.compile(r'\{"error":"(.*)"\}')  # cmd/root.go Execute's Fprintf
RELEASES = "https://github.com/runpod/runpodctl/releases"
# what each flag we rely on needs, and the words runpodctl uses when it lacks it
FLOORS = (
    ('unknown command "pod"', "has no `pod` command (it is v1.x): `pod list --all` needs v2.1.0"),
    ("unknown flag: --all", "has no `pod list --all` (added in v2.1.0)"),
    ("unknown flag: --terminate-after", "has no `pod create --terminate-after` (added in v2.3.0)"),
)


class RunPod:
    name = "runpod"
    cli = "runpodctl"

    def instances(self) -> list[Instance]:
        done = run(LIST, what="listing RunPod pods", explain=explain)
        pods = read_list(done.stdout, command=" ".join(LIST))
        return [
            Instance(
                str(p["id"]),
                str(p.get("name") or ""),
                str(p.get("desiredStatus", "?")),
                money(p.get("costPerHr")),
            )
            for p in pods
        ]

    def terminate(self, instance_id: str) -> bool:
        argv = ["runpodctl", "pod", "delete", instance_id]
        try:
            done = run(argv, what=f"deleting RunPod pod {instance_id}", explain=explain)
        except VendorError as exc:
            if "(status 404)" in str(exc):  # the API's own "no such pod"
                return True
            raise
        answer = _object(done.stdout)
        if answer is None or answer.get("deleted") is not True:
            raise VendorError(
                f'`{" ".join(argv)}` did not print {{"deleted": true, ...}}:'
                f" {one_line(done.stdout)[:200]!r}"
            )
        return False

    def created(self, ran: Ran) -> Created:
        answer = _object(ran.stdout)
        said = explain(ran.stderr)
        pod_id = str(answer["id"]) if answer and answer.get("id") else None
        if ran.ok and said is None and answer and answer.get("id"):
            return Created(pod_id)
        problem = (
            said
            or ran.problem
            or (
                f"exited {ran.status}: {ran.error_text()}"
                if not ran.ok
                else f"printed no pod JSON with an id on stdout: {one_line(ran.stdout)[:200]!r}"
            )
        )
        return Created(pod_id, problem, refused=pod_id is None and _refused(ran.stderr))


# internal/api/client.go: a status outside 2xx is "api error: <body> (status N)"
_API_STATUS = re.compile(r"api error: .* \(status (\d{3})\)")


def _refused(stderr: str) -> bool:
    """The API's own refusal of the create (a 4xx status): the request was rejected."""
    codes = [int(code) for code in _API_STATUS.findall(stderr)]
    return bool(codes) and all(400 <= code < 500 for code in codes)


def explain(stderr: str) -> str | None:
    return stderr_error("runpodctl", stderr, _shapes)


# `pod create`'s flags at v2.7.2 (cmd/pod/create.go `init`, cmd/root.go's persistent --output,
# cobra's --help); the rest of the command line is cobra's NoArgs
CREATE_FLAGS = {
    **dict.fromkeys(
        (
            "name", "template-id", "image", "compute-type", "gpu-id", "volume-mount-path",
            "ports", "env", "cloud-type", "data-center-ids", "network-volume-id",
            "min-cuda-version", "docker-args", "registry-auth-id", "country-code", "stop-after",
            "terminate-after", "compliance", "gpu-count", "volume-in-gb",
            "container-disk-in-gb",
        ),
        pflag.Flag(takes_value=True),
    ),
    **dict.fromkeys(("global-networking", "public-ip", "ssh"), pflag.Flag(takes_value=False)),
    "output": pflag.Flag(takes_value=True, shorthand="o"),
    "help": pflag.Flag(takes_value=False, shorthand="h"),
}  # fmt: skip
# RFC 3339's date-time, the form the flag's help shows (2026-04-15T00:00:00Z)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


class PodCreate(Struct, frozen=True):
    """What `runpodctl pod create` asks the API for, read as pflag and then runCreate read it."""

    compute_type: str  # "GPU" or "CPU", trimmed and upper-cased
    cloud_type: str
    gpu_id: str
    terminate_after: str  # as given (the last one); "" when none is sent
    stop_after: str


def read_create(args: Sequence[str]) -> PodCreate:
    """The flags of ``pod create`` (``args`` after those two words). Raises InputError for a
    command line runpodctl itself would refuse."""
    read = pflag.parse(args, CREATE_FLAGS)
    if not read.error and read.positional:
        read = replace(
            read, error=f'unknown command {read.positional[0]!r} for "runpodctl pod create"'
        )
    if read.error:
        raise InputError(
            f"runpodctl would refuse this create ({read.error}): fix it and launch again"
        )
    values = read.values
    compute = values.get("compute-type", "GPU").strip().upper() or "GPU"
    if compute not in ("GPU", "CPU"):
        raise InputError(
            f"runpodctl would refuse --compute-type {values['compute-type']!r} (GPU or CPU)"
        )
    return PodCreate(
        compute,
        values.get("cloud-type", "SECURE").strip().upper() or "SECURE",
        values.get("gpu-id", "").strip(),
        values.get("terminate-after", ""),
        values.get("stop-after", ""),
    )


def auto_termination(
    argv: Sequence[str], *, now: datetime, max_hours: int
) -> AutoTermination | None:
    """The auto-termination a ``runpodctl pod create`` asks for, proven from its arguments;
    None for any other command. Refuses a create without one, or with one too far away."""
    if not argv or Path(argv[0]).name != "runpodctl" or "create" not in argv:
        return None
    latest = now + timedelta(hours=max_hours)
    flag = f"--terminate-after {latest.replace(second=0, microsecond=0):%Y-%m-%dT%H:%M:%SZ}"
    args = list(argv[1:])
    if args[:2] != ["pod", "create"]:
        raise InputError(
            f"`{' '.join(argv[:3])}` cannot set an auto-termination: use `runpodctl pod create"
            f" ... {flag}` (runpodctl v2.3.0 or newer; {RELEASES})"
        )
    asked = read_create(args[2:])
    if asked.compute_type == "CPU":
        raise InputError(
            "runpodctl sends --terminate-after only for GPU pods (cmd/pod/create.go), so a"
            " --compute-type cpu pod would run with no auto-termination: create a GPU pod"
        )
    given = asked.terminate_after
    if not given:
        stop = " (--stop-after only stops it: its disk still bills)" if asked.stop_after else ""
        raise InputError(
            f"`runpodctl pod create` without --terminate-after runs until someone deletes it"
            f"{stop}: add `{flag}` (at most {max_hours} h from now) and launch again"
        )
    until = _rfc3339(given)
    if until is None or until <= now or until > latest:
        why = (
            "is not an RFC3339 time (e.g. 2026-04-15T00:00:00Z)"
            if until is None
            else (
                "is not in the future" if until <= now else f"is more than {max_hours} h from now"
            )
        )
        raise InputError(f"--terminate-after {given} {why}: use `{flag}` and launch again")
    return AutoTermination(
        "by the vendor", given, f"runpodctl pod create --terminate-after {given}"
    )


def _rfc3339(text: str) -> datetime | None:
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # 2026-02-30: the right shape, no such day
        return None


def _object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _shapes(lines: list[str]) -> str | None:
    """The first ``{"error": ...}``: output.Error's (valid JSON), else Execute's printf line
    (not JSON when the message holds a quote)."""
    for error in json_objects(lines):
        if "error" in error:
            message = str(error["error"])
            return _floor(message) or message
    for line in lines:
        printed = _PRINTED.fullmatch(line)
        if printed:
            return _floor(printed.group(1)) or printed.group(1)
    return _floor(" ".join(lines))


def _floor(text: str) -> str | None:
    for words, lacks in FLOORS:
        if words in text:
            return f"this runpodctl {lacks}: upgrade it ({RELEASES})"
    return None
