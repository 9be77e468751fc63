"""Vast.ai through ``vastai``: `show instances --raw` (JSON) and `destroy instance ID -y`.

Without ``-y`` the destroy asks ``[y/N]``, and with no terminal it prints "Aborted." and does
nothing; older CLIs reject ``-y``. Both are detected and said plainly; the list is always read
again afterwards. Fields used: id, label, actual_status, cur_state, dph_total.
"""

from __future__ import annotations

from minitrain.vendors import Instance, VendorError, money, parse_json_list, run

LIST = ["vastai", "show", "instances", "--raw"]


class Vast:
    name = "vast"
    cli = "vastai"

    def instances(self) -> list[Instance]:
        done = run(LIST, what="listing Vast.ai instances")
        rows = parse_json_list(done.stdout, command=" ".join(LIST))
        try:
            return [
                Instance(
                    str(r["id"]),
                    str(r.get("label") or ""),
                    str(r.get("actual_status") or r.get("cur_state") or "?"),
                    money(r.get("dph_total")),
                )
                for r in rows
            ]
        except KeyError:
            raise VendorError("`vastai show instances` printed an instance without an id") from None

    def terminate(self, instance_id: str) -> None:
        argv = ["vastai", "destroy", "instance", instance_id, "-y"]
        try:
            done = run(argv, what=f"destroying Vast.ai instance {instance_id}")
        except VendorError as exc:
            if "unrecognized arguments" in str(exc) and "-y" in str(exc):
                raise VendorError(
                    "this vastai CLI is too old for -y, and without it a destroy with no terminal"
                    " does nothing: upgrade it (pip install -U vastai) or destroy"
                    f" {instance_id} in the console now"
                ) from None
            raise
        if "aborted" in done.stdout.lower():
            raise VendorError(
                f"vastai answered 'Aborted.': instance {instance_id} was NOT destroyed;"
                " destroy it in the console now"
            )
