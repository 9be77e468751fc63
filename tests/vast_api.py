"""A stand-in for the Vast.ai REST API on 127.0.0.1, for driving the real `vastai` CLI.

It answers the calls `vastai` 1.9.1 makes for the commands we use, and the calls the on-instance
time cap makes, with the shapes the real API gives (vast-ai/vast-cli: ``vastai/api/instances.py``
reads ``GET /api/v1/instances/`` as ``{"instances": [...], "next_token": ...}`` with
``data.get("instances") or []`` and needs each row's ``start_date`` and ``extra_env``;
``show_instance`` reads ``GET /api/v0/instances/ID/`` as ``{"instances": row or null}``;
``PUT /api/v0/asks/ID/`` creates. vast-ai/docs ``api-reference/openapi/yaml/
auto_delete_api_v0_instances_id_4ff617.yaml``: ``DELETE /api/v0/instances/ID/`` answers
``{"success": true}``, or 404 ``{"success": false, "error": "no_such_instance", "msg":
"Instance ID not found."}``; ``PUT /api/v0/instances/ID/`` with ``{"state": "stopped"}`` stops
it (api-reference "manage instance")).

Every call is answered for the account of its ``Authorization: Bearer KEY``: ``instances``
belongs to ``key`` (the environment's, ``VAST_API_KEY`` in the tests), ``accounts`` holds other
keys' instances (a team key, an instance's own ``CONTAINER_API_KEY`` sees its account's), and
an unknown key gets the 401 the API sends for a bad key, ``{"success": false, "error":
"auth_error", "msg": "Invalid user key"}`` (the CLI's own ``_is_tfa_session_expired`` names that
message). ``mode`` makes every call fail the ways the real service does: ``500`` (an HTML error
page), ``html`` (a captive portal's page with status 200); ``no-instances`` and
``null-instances`` answer the listing without its ``instances`` or with ``null`` there.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INVALID_KEY = {"success": False, "error": "auth_error", "msg": "Invalid user key"}
KEY = "test-key-not-real-0001"


@dataclass
class VastApi:
    instances: list[dict[str, Any]] = field(default_factory=list)
    mode: str = ""  # "", "401", "500", "html", "no-instances", "null-instances"
    destroy_ignored: bool = False  # the API says success, the instance stays (a ghost)
    calls: list[str] = field(default_factory=list)
    next_contract: int = 7835610
    key: str = KEY
    accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # each create's JSON body
    url: str = ""  # where it is served (set by the fixture)

    def answer(self, method: str, path: str, key: str, body: bytes) -> tuple[int, str, str]:
        self.calls.append(f"{method} {path}")
        if self.mode == "500":
            return 500, "text/html", "<h1>Server Error (500)</h1>"
        if self.mode == "html":
            return 200, "text/html", "<html><body>Sign in to the hotel Wi-Fi</body></html>"
        rows = self.instances if key == self.key else self.accounts.get(key)
        if self.mode == "401" or rows is None:
            return 401, "application/json", json.dumps(INVALID_KEY)
        status, data = self._ok(method, path, rows, json.loads(body or b"{}"))
        return status, "application/json", json.dumps(data)

    def _ok(
        self, method: str, path: str, rows: list[dict[str, Any]], sent: dict[str, Any]
    ) -> tuple[int, object]:
        if method == "GET" and path.startswith("/api/v1/instances/"):
            return 200, self._listing(rows)
        found = re.match(r"/api/v0/instances/(\d+)/", path)
        if found:
            return self._instance(method, found.group(1), rows, sent)
        if method == "PUT" and path.startswith("/api/v0/asks/"):
            self.bodies.append(sent)
            new = self.next_contract
            rows.append({"id": new, "label": "lab02", "actual_status": "loading"})
            return 200, {"success": True, "new_contract": new}
        if path.startswith("/api/v0/gpu_names/"):
            return 200, {"gpu_names": []}
        return 200, {"id": 1, "host_agreement_accepted": False}  # /users/current, for the role

    def _listing(self, rows: list[dict[str, Any]]) -> object:
        full = [{"start_date": 1764363600.0, "extra_env": [], **row} for row in rows]
        if self.mode == "no-instances":
            return {"next_token": None}
        if self.mode == "null-instances":
            return {"instances": None, "next_token": None}
        return {"instances": full, "next_token": None, "total_instances": len(full)}

    def _instance(
        self, method: str, instance: str, rows: list[dict[str, Any]], sent: dict[str, Any]
    ) -> tuple[int, object]:
        row = next((r for r in rows if str(r["id"]) == instance), None)
        if method == "GET":
            full = {"start_date": 1764363600.0, "extra_env": [], **row} if row else None
            return 200, {"instances": full}
        if row is None:
            msg = f"Instance {instance} not found."
            return 404, {"success": False, "error": "no_such_instance", "msg": msg}
        if method == "DELETE":
            if not self.destroy_ignored:
                rows.remove(row)
        else:  # PUT: manage instance, {"state": "stopped"}
            row["actual_status"] = sent.get("state", row.get("actual_status"))
        return 200, {"success": True}


class _Handler(BaseHTTPRequestHandler):
    api: VastApi

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        status, kind, text = self.api.answer(self.command, self.path, key, body)
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_POST = _serve

    def log_message(self, *args: object) -> None:
        pass


class Served:
    """The server on a free port, in a thread; ``url`` is what VAST_URL takes."""

    def __init__(self, api: VastApi) -> None:
        handler = type("Handler", (_Handler,), {"api": api})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True  # a CLI that hung up must not hold the teardown
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
