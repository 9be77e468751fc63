"""Vast.ai through ``vastai`` (vast-ai/vast-cli, 1.9.1): `show instances --raw`,
`destroy instance ID -y`, and what `create instance` prints. Each format names its source.

- ``show instances --raw`` prints a flat JSON list, ``json.dumps(res, indent=1,
  sort_keys=True)`` (``vastai/cli/main.py`` ``run_command``; ``vastai/api/instances.py``
  ``show_instances`` flattens the API's pages). Fields used: id, label, actual_status,
  cur_state, dph_total.
- An HTTP failure anywhere (401 bad key, 5xx, a 200 page that is not JSON) exits **0** with
  nothing on stdout and the error on stderr (``vastai/cli/main.py``: ``_emit_error`` then
  ``break``; the ``except ValueError`` after it for a body that is not JSON). With ``--raw`` the
  error is ``{"error": true, "status_code": N, "msg": "..."}``; without, ``Failed with error N:
  ...`` followed by hint lines, or the bare message when there is no status. With no network it
  prints a traceback and exits 1.
- ``destroy instance ID -y`` (``-y`` since 1.0.1) prints ``destroying instance N.``; without
  ``-y`` and a terminal it prints ``Aborted.``, destroys nothing and exits 0
  (``vastai/cli/commands/instances.py`` ``destroy__instance``). An older CLI rejects ``-y`` the
  argparse way: ``vastai: error: unrecognized arguments: -y``.
- ``create instance`` prints ``Started. {'success': True, 'new_contract': N}`` (with ``--raw``,
  the same dict as indented JSON) (``create_instance_impl``). It has no auto-termination option.
"""

from __future__ import annotations

import json
import re

from minitrain._commands import Ran, one_line
from minitrain.vendors.contract import (
    Created,
    Instance,
    VendorError,
    json_objects,
    money,
    read_list,
    run,
    stderr_error,
)

LIST = ["vastai", "show", "instances", "--raw"]
_FAILED = re.compile(r"^Failed with error (\d+): (.*)$")
_STARTED = re.compile(r"^Started\. \{.*'new_contract': (\d+)")


class Vast:
    name = "vast"
    cli = "vastai"

    def instances(self) -> list[Instance]:
        done = run(LIST, what="listing Vast.ai instances", explain=explain)
        rows = read_list(done.stdout, command=" ".join(LIST))
        return [
            Instance(
                str(r["id"]),
                str(r.get("label") or ""),
                str(r.get("actual_status") or r.get("cur_state") or "?"),
                money(r.get("dph_total")),
            )
            for r in rows
        ]

    def terminate(self, instance_id: str) -> None:
        argv = ["vastai", "destroy", "instance", instance_id, "-y"]
        try:
            done = run(argv, what=f"destroying Vast.ai instance {instance_id}", explain=explain)
        except VendorError as exc:
            if "unrecognized arguments" in str(exc) and "-y" in str(exc):
                raise VendorError(
                    "this vastai CLI is too old for -y (it needs 1.0.1 or newer), and without it"
                    " a destroy with no terminal does nothing: upgrade it (pip install -U vastai)"
                    f" or destroy {instance_id} in the console now"
                ) from None
            raise
        if "Aborted." in done.stdout:
            raise VendorError(
                f"vastai answered 'Aborted.': instance {instance_id} was NOT destroyed;"
                " destroy it in the console now"
            )
        if f"destroying instance {instance_id}." not in done.stdout:
            raise VendorError(
                f"`{' '.join(argv)}` did not say 'destroying instance {instance_id}.':"
                f" {one_line(done.stdout)[:200]!r}"
            )

    def created(self, ran: Ran) -> Created:
        said = explain(ran.stderr)
        new = _new_contract(ran.stdout)
        if ran.ok and said is None and new:
            return Created(new)
        problem = (
            said
            or ran.problem
            or (
                f"exited {ran.status}: {ran.error_text()}"
                if not ran.ok
                else "printed no \"Started. {'success': True, 'new_contract': N}\":"
                f" {one_line(ran.stdout)[:200]!r}"
            )
        )
        return Created(new, problem)


def explain(stderr: str) -> str | None:
    return stderr_error("vastai", stderr, _shapes)


def _new_contract(stdout: str) -> str | None:
    for line in stdout.splitlines():
        match = _STARTED.match(line.strip())
        if match:
            return match.group(1)
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("success") and data.get("new_contract"):
        return str(data["new_contract"])
    return None


def _shapes(lines: list[str]) -> str | None:
    for error in json_objects(lines):
        if error.get("error") is True:
            return _said(int(error.get("status_code") or 0), str(error.get("msg")))
    match = _FAILED.match(lines[0])
    if match:
        hints = one_line("\n".join(lines[1:]))
        return _said(int(match.group(1)), match.group(2)) + (f"; {hints}" if hints else "")
    if lines[0].startswith("Expecting value"):  # requests' JSONDecodeError: not a JSON body
        return _said(0, lines[0])
    return None


def _said(status: int, message: str) -> str:
    if status == 0:
        return f"the API answered with something that is not JSON ({message})"
    return f"{message} (HTTP {status})"
