"""A loopback stand-in of the Hugging Face hub's HTTP API: enough of it for ``create_repo``, ``upload_folder`` and
``hf_hub_download``, and a server that accepts connections and never answers.

It answers on 127.0.0.1 only (no traffic leaves the machine), keeps what was committed in memory, and records every
request, so a test can point ``HF_ENDPOINT`` at it and check which files a push sent. ``token`` makes it refuse writes
without that token (401); ``stall`` names request paths it never answers (after its probe was answered).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (the hub probe reads one byte of the answer) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HubStandIn:
    """``with HubStandIn() as hub:`` serves at ``hub.endpoint``; ``hub.files[repo][path]`` holds committed bytes."""

    def __init__(self, token: str | None = None, stall: tuple[str, ...] = ()) -> None:
        self.files: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.validated: list[str] = []  # model card texts sent for validation
        self.released = threading.Event()  # ends the stalled requests when the stand-in closes
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _stalled(self, path: str) -> bool:
                if any(path.startswith(prefix) for prefix in stall):
                    hub.released.wait(60)  # never answers while the test runs
                    return True
                return False

            def _file(self, head: bool) -> None:
                """``/{owner}/{name}/resolve/{revision}/{path}``: a committed file, or the hub's 404s."""
                hub.requests.append(("HEAD" if head else "GET", self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._reply(404, {"error": f"the stand-in does not know {self.path}"})
                repo, name = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
                if repo not in hub.files:
                    return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                if name not in hub.files[repo]:
                    return self._reply(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
                data = hub.files[repo][name]
                self.send_response(200)
                headers = {"X-Repo-Commit": hub.commit(repo), "ETag": f'"{hashlib.sha256(data).hexdigest()}"', "Content-Length": str(len(data))}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:  # noqa: N802
                if not self._stalled(self.path):
                    self._file(head=True)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(("POST", self.path))
                path = self.path.split("?")[0]
                if self._stalled(path):
                    return None
                if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
                    return self._reply(401, {"error": "Invalid credentials in Authorization header"})
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
                if not self._stalled(self.path):
                    self._file(head=False)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def commit(self, repo: str) -> str:
        """The repository's commit hash: 40 hex digits that change with its files."""
        files = self.files.get(repo, {})
        return hashlib.sha1(b"".join(name.encode() + hashlib.sha256(data).digest() for name, data in sorted(files.items()))).hexdigest()

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """``with SilentServer() as endpoint:`` a loopback address that accepts connections (the kernel completes them) and
    never answers a byte: the hub that hangs."""

    def __enter__(self) -> str:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(self, *exc: Any) -> None:
        self.socket.close()


def closed_endpoint() -> str:
    """A loopback address where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
