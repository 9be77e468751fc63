"""RunPod through ``runpodctl``: `pod list --all` (JSON) and `pod delete ID`.

``pod list`` shows only running pods unless given ``--all``; stopped pods still bill their disk,
so this lists them all. Fields used: id, name, desiredStatus, costPerHr.
"""

from __future__ import annotations

from minitrain.vendors import Instance, VendorError, money, parse_json_list, run

LIST = ["runpodctl", "pod", "list", "--all"]


class RunPod:
    name = "runpod"
    cli = "runpodctl"

    def instances(self) -> list[Instance]:
        done = run(LIST, what="listing RunPod pods")
        pods = parse_json_list(done.stdout, command=" ".join(LIST))
        try:
            return [
                Instance(
                    str(p["id"]),
                    str(p.get("name") or ""),
                    str(p.get("desiredStatus", "?")),
                    money(p.get("costPerHr")),
                )
                for p in pods
            ]
        except KeyError:
            raise VendorError("`runpodctl pod list` printed a pod without an id") from None

    def terminate(self, instance_id: str) -> None:
        run(["runpodctl", "pod", "delete", instance_id], what=f"deleting RunPod pod {instance_id}")
