"""Vast.ai through ``vastai`` (vast-ai/vast-cli, 1.9.1; older forms named): `show instances
--raw`, `destroy instance ID -y`, and what `create instance` prints. Each format names its source.

- ``show instances --raw`` prints a flat JSON list, ``json.dumps(res, indent=1,
  sort_keys=True)`` (``vastai/cli/main.py`` ``run_command``; ``vastai/api/instances.py``
  ``show_instances`` flattens the API's pages with ``data.get("instances") or []``, so a 200
  page without ``instances``, or with ``null`` there, prints ``[]`` too). Fields used: id,
  label, actual_status, cur_state, dph_total. ``show instance ID --raw`` prints ``{"instances":
  null}`` for an instance the API does not find (``show__instance``).
- An HTTP failure anywhere (401 bad key, 5xx, a 200 page that is not JSON) exits **0** with
  nothing on stdout and the error on stderr (``vastai/cli/main.py``: ``_emit_error`` then
  ``break``; the ``except ValueError`` after it for a body that is not JSON). With ``--raw`` the
  error is ``{"error": true, "status_code": N, "msg": "..."}``; without, ``Failed with error N:
  ...`` followed by hint lines, or the bare message when there is no status. With no network it
  prints a traceback and exits 1.
- An expired 2FA session (``run_command``, ``_is_tfa_session_expired``): it prints ``Failed
  with error 401: Your 2FA session has expired.`` on **stdout**, deletes its 2FA key file and,
  when a personal key file exists, says ``Trying again with your normal API Key from ...``
  and runs the command again with that key (possibly another account): a listing after those
  lines is not this account's.
- ``destroy instance ID -y`` (``-y`` since 1.0.1) prints ``destroying instance N.``; without
  ``-y`` and a terminal it prints ``Aborted.``, destroys nothing and exits 0
  (``vastai/cli/commands/instances.py`` ``destroy__instance``). Before 1.0.1 (1.0.0's
  ``destroy__instance``) there is no ``-y`` and no prompt: it destroys at once, and rejects
  ``-y`` the argparse way: ``vastai: error: unrecognized arguments: -y``; that form is used
  there. The API answers a destroy of an instance it does not have with 404 ``{"success":
  false, "error": "no_such_instance", "msg": "Instance N not found."}`` (vast-ai/docs
  ``api-reference/openapi/yaml/auto_delete_api_v0_instances_id_4ff617.yaml``), which vastai
  prints as ``Failed with error 404: Instance N not found.``
- ``create instance`` prints ``Started. {'success': True, 'new_contract': N}`` (with ``--raw``,
  the same dict as indented JSON) (``create_instance_impl``). It has no auto-termination option:
  ``vendors/vast_cap.py`` adds one to its on-start.
- ``--api-key`` and ``--url`` choose the account and server of one command; their defaults
  are ``$VAST_API_KEY`` and ``$VAST_URL`` (``vastai/cli/main.py``, ``vastai/api/client.py``
  ``server_url_default``), which is how an ``Account`` reaches each command here.
"""

from __future__ import annotations

import json
import re

from minitrain._commands import Ran, one_line
from minitrain.vendors.contract import (
    Account,
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
_TFA_EXPIRED = "Your 2FA session has expired."  # vastai/cli/main.py run_command, on stdout


class Vast:
    name = "vast"
    cli = "vastai"

    def __init__(self, account: Account | None = None) -> None:
        self.env = (account or Account()).env("VAST_API_KEY", "VAST_URL")

    def instances(self) -> list[Instance]:
        done = self._run(LIST, "listing Vast.ai instances")
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

    def terminate(self, instance_id: str) -> bool:
        argv = ["vastai", "destroy", "instance", instance_id, "-y"]
        what = f"destroying Vast.ai instance {instance_id}"
        try:
            done = self._run(argv, what)
        except VendorError as exc:
            said = str(exc)
            if f"Instance {instance_id} not found." in said and "404" in said:
                return True  # the API's own "no such instance"
            if "unrecognized arguments" not in said or "-y" not in said:
                raise
            argv = argv[:-1]  # before 1.0.1: no -y, and no prompt to answer
            done = self._run(argv, what)
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
        return False

    def _run(self, argv: list[str], what: str) -> Ran:
        done = run(argv, what=what, explain=explain, env=self.env)
        if _TFA_EXPIRED in done.stdout:
            raise VendorError(
                f"{what} failed: vastai's 2FA session had expired, so it deleted its 2FA key"
                " and ran the command again with the personal key from its key file, which may"
                " belong to another account; what it printed then says nothing about this one."
                " Start a new session (`vastai tfa login`) and look again"
            )
        return done

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
        return Created(new, problem, refused=new is None and _refused(ran))


def _refused(ran: Ran) -> bool:
    """The API's own refusal of the create: ``{"error": true, "status_code": 4xx}`` (with
    --raw) or ``Failed with error 4xx:`` (``_emit_error``). Not after an expired 2FA session's
    retry with another key, which may have created the instance in that other account."""
    if _TFA_EXPIRED in ran.stdout:
        return False
    lines = [line.strip() for line in ran.stderr.splitlines() if line.strip()]
    codes = [int(e.get("status_code") or 0) for e in json_objects(lines) if e.get("error") is True]
    codes += [int(m.group(1)) for m in map(_FAILED.match, lines) if m]
    return bool(codes) and all(400 <= code < 500 for code in codes)


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
