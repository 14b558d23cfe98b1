"""A loopback stand-in of the Hugging Face hub's HTTP API: enough of it for ``create_repo`` and ``upload_folder``.

It answers on 127.0.0.1 only (no traffic leaves the machine), keeps what was committed in memory, and records every
request, so a test can point ``HF_ENDPOINT`` at it and check which files a push sent.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HubStandIn:
    """``with HubStandIn() as hub:`` serves at ``hub.endpoint``; ``hub.files[repo][path]`` holds committed bytes."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.validated: list[str] = []  # model card texts sent for validation
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(("POST", self.path))
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo = f"{request.get('organization') or 'user'}/{request['name']}"
                    hub.files.setdefault(repo, {})
                    return self._reply(200, {"url": f"{hub.endpoint}/{repo}", "name": repo})
                if path == "/api/validate-yaml":  # the model card's metadata: the hub checks it before a commit
                    hub.validated.append(json.loads(body)["content"])
                    return self._reply(200, {"warnings": []})
                parts = path.strip("/").split("/")  # api models OWNER NAME (preupload|commit) REVISION
                if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
                if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "commit":
                    repo = f"{parts[2]}/{parts[3]}"
                    for line in body.decode().splitlines():
                        record = json.loads(line)
                        if record.get("key") == "file":
                            value = record["value"]
                            hub.files.setdefault(repo, {})[value["path"]] = base64.b64decode(value["content"])
                    return self._reply(200, {"commitUrl": f"{hub.endpoint}/{repo}/commit/{'0' * 40}", "commitOid": "0" * 40, "pullRequestUrl": None})
                return self._reply(404, {"error": f"the stand-in does not know POST {path}"})

            def do_GET(self) -> None:  # noqa: N802
                hub.requests.append(("GET", self.path))
                return self._reply(404, {"error": f"the stand-in does not know GET {self.path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
