"""A stand-in for the Vast.ai REST API on 127.0.0.1, for driving the real `vastai` CLI.

It answers the calls `vastai` 1.9.1 makes for the commands we use, with the shapes the real API
gives (vast-ai/vast-cli: ``vastai/api/instances.py`` reads ``GET /api/v1/instances/`` as
``{"instances": [...], "next_token": ...}`` and needs each row's ``start_date`` and
``extra_env``; ``DELETE /api/v0/instances/ID/`` and ``PUT /api/v0/asks/ID/`` answer JSON with
``success``). ``mode`` makes every call fail the ways the real service does: ``401`` (the JSON
error the API sends for a bad key, ``{"success": false, "error": "auth_error", "msg": "Invalid
user key"}``; the CLI's own ``_is_tfa_session_expired`` names that message), ``500`` (an HTML
error page), ``html`` (a captive portal's page with status 200).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INVALID_KEY = {"success": False, "error": "auth_error", "msg": "Invalid user key"}


@dataclass
class VastApi:
    instances: list[dict[str, Any]] = field(default_factory=list)
    mode: str = ""  # "", "401", "500", "html"
    destroy_ignored: bool = False  # the API says success, the instance stays (a ghost)
    calls: list[str] = field(default_factory=list)
    next_contract: int = 7835610

    def answer(self, method: str, path: str) -> tuple[int, str, str]:
        self.calls.append(f"{method} {path}")
        if self.mode == "401":
            return 401, "application/json", json.dumps(INVALID_KEY)
        if self.mode == "500":
            return 500, "text/html", "<h1>Server Error (500)</h1>"
        if self.mode == "html":
            return 200, "text/html", "<html><body>Sign in to the hotel Wi-Fi</body></html>"
        return 200, "application/json", json.dumps(self._ok(method, path))

    def _ok(self, method: str, path: str) -> object:
        if method == "GET" and path.startswith("/api/v1/instances/"):
            rows = [{"start_date": 1764363600.0, "extra_env": [], **row} for row in self.instances]
            return {"instances": rows, "next_token": None, "total_instances": len(rows)}
        found = re.match(r"/api/v0/instances/(\d+)/", path)
        if method == "DELETE" and found:
            if not self.destroy_ignored:
                self.instances = [r for r in self.instances if str(r["id"]) != found.group(1)]
            return {"success": True}
        if method == "PUT" and path.startswith("/api/v0/asks/"):
            new = self.next_contract
            self.instances.append({"id": new, "label": "lab02", "actual_status": "loading"})
            return {"success": True, "new_contract": new}
        if path.startswith("/api/v0/gpu_names/"):
            return {"gpu_names": []}
        return {"id": 1, "host_agreement_accepted": False}  # /users/current, for the role


class _Handler(BaseHTTPRequestHandler):
    api: VastApi

    def _serve(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, kind, body = self.api.answer(self.command, self.path)
        data = body.encode()
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
