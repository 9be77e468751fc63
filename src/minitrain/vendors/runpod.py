"""RunPod through ``runpodctl`` v2 (runpod/runpodctl): `pod list --all`, `pod delete ID`, and what
`pod create` prints. Each format below names the source file it comes from.

- JSON is the default output, indented (``cmd/root.go``: ``-o`` defaults to ``json``;
  ``internal/output/output.go``: ``printJSON`` indents by two spaces).
- ``pod list`` shows running pods only unless ``--all`` (added in v2.1.0; ``cmd/pod/list.go``);
  stopped pods still bill their disk, so this lists them all. An empty list prints ``[]``;
  ``costPerHr`` is omitted when 0. Fields used: id, name, desiredStatus, costPerHr.
- An error prints one flat JSON object on stderr, ``{"error":"...","code":"...","status":N}``
  (plus ``"id"`` when a created pod outlives the failure), and exits 1 (``cmd/root.go``
  ``Execute``, ``internal/output/output.go`` ``Error``). Notes go to stderr as ``note: ...``.
- ``pod delete ID`` prints ``{"deleted": true, "id": ID}`` (``cmd/pod/delete.go``).
- ``pod create`` prints the new pod as an indented JSON object with its ``id``
  (``cmd/pod/create.go``); ``--terminate-after <RFC3339>`` (v2.3.0) is sent only on the GPU
  path (GraphQL ``terminateAfter``), so a ``--compute-type cpu`` pod silently has none.
- v1.x has no ``pod`` command at all (``get pod`` printed a table): cobra answers
  ``Error: unknown command "pod" for "runpodctl"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from minitrain._commands import Ran, one_line
from minitrain.errors import InputError
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

    def terminate(self, instance_id: str) -> None:
        argv = ["runpodctl", "pod", "delete", instance_id]
        done = run(argv, what=f"deleting RunPod pod {instance_id}", explain=explain)
        answer = _object(done.stdout)
        if answer is None or answer.get("deleted") is not True:
            raise VendorError(
                f'`{" ".join(argv)}` did not print {{"deleted": true, ...}}:'
                f" {one_line(done.stdout)[:200]!r}"
            )

    def created(self, ran: Ran) -> Created:
        answer = _object(ran.stdout)
        said = explain(ran.stderr)
        errors = json_objects([line.strip() for line in ran.stderr.splitlines()])
        # a pod created before the failure (e.g. `--wait` timed out) is named in the error
        left = next((str(e["id"]) for e in errors if e.get("id")), None)
        pod_id = str(answer["id"]) if answer and answer.get("id") else left
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
        return Created(pod_id, problem)


def explain(stderr: str) -> str | None:
    return stderr_error("runpodctl", stderr, _shapes)


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
    if _value(args, "--compute-type").upper() == "CPU":
        raise InputError(
            "runpodctl sends --terminate-after only for GPU pods (cmd/pod/create.go), so a"
            " --compute-type cpu pod would run with no auto-termination: create a GPU pod"
        )
    given = _value(args, "--terminate-after")
    if not given:
        stop = (
            " (--stop-after only stops it: its disk still bills)"
            if "--stop-after" in (" ".join(args))
            else ""
        )
        raise InputError(
            f"`runpodctl pod create` without --terminate-after runs until someone deletes it"
            f"{stop}: add `{flag}` (at most {max_hours} h from now) and launch again"
        )
    until = _rfc3339(given)
    if until is None or until <= now or until > latest:
        why = (
            "is not an RFC3339 time"
            if until is None
            else (
                "is not in the future" if until <= now else f"is more than {max_hours} h from now"
            )
        )
        raise InputError(f"--terminate-after {given} {why}: use `{flag}` and launch again")
    return AutoTermination(
        "proven by the create command", given, f"runpodctl pod create --terminate-after {given}"
    )


def _value(args: list[str], flag: str) -> str:
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return ""


def _rfc3339(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.utcoffset() is not None else None


def _object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _shapes(lines: list[str]) -> str | None:
    for error in json_objects(lines):
        if "error" in error:
            message = str(error["error"])
            status = f" (HTTP {error['status']})" if error.get("status") else ""
            return _floor(message) or f"{message}{status}"
    return _floor(" ".join(lines))


def _floor(text: str) -> str | None:
    for words, lacks in FLOORS:
        if words in text:
            return f"this runpodctl {lacks}: upgrade it ({RELEASES})"
    return None
