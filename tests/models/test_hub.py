"""A hub name that cannot be fetched (no network) fails in seconds with one line naming the option and the fixes."""

from __future__ import annotations

import time

import pytest

from ser_lightning.models import HFBackbone, WhisperBackbone
from ser_lightning.models.hub import hub_reachable


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, the connection is refused at once
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not hub_reachable()


@pytest.mark.parametrize(("backbone", "name"), [(HFBackbone, "facebook/wav2vec2-xls-r-300m"), (WhisperBackbone, "openai/whisper-small")])
def test_an_unreachable_hub_name_is_one_line_naming_the_fixes(offline, backbone, name):
    start = time.monotonic()
    with pytest.raises(ValueError) as error:
        backbone(name_or_path=name)
    message = str(error.value)
    assert time.monotonic() - start < 10  # no minute of retries
    assert "\n" not in message and f"name_or_path={name!r}" in message
    assert "local folder written by save_pretrained" in message and "pretrained: false" in message


def test_a_local_folder_needs_no_hub(offline, tmp_path):
    from transformers import AutoConfig, AutoModel

    from .tiny import TINY_WAV2VEC2

    folder = tmp_path / "tiny"
    AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2)).save_pretrained(folder)
    assert HFBackbone(name_or_path=str(folder)).hidden_size == TINY_WAV2VEC2["hidden_size"]


def test_hf_hub_offline_gets_the_same_one_line_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"name_or_path='facebook/wav2vec2-xls-r-300m'.*HF_HUB_OFFLINE is set"):
        HFBackbone(name_or_path="facebook/wav2vec2-xls-r-300m")


class RecordingProxy:
    """A loopback HTTP proxy that answers every request with 404 and records its request line."""

    def __init__(self) -> None:
        import http.server
        import threading

        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                requests.append(self.requestline)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_CONNECT = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def clear_proxy_variables(monkeypatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_hub_behind_a_proxy_is_fetched_through_the_proxy(monkeypatch, tmp_path):
    """Cluster nodes reach the internet only through HTTPS_PROXY: the hub is not declared unreachable, and the download
    goes to the proxy (here a loopback stand-in that refuses the tunnel: no traffic leaves the machine)."""
    from huggingface_hub.utils._http import close_session

    from ser_lightning.models import hub

    close_session()  # huggingface_hub reads the proxy variables when it opens its HTTP client: open a new one
    proxy = RecordingProxy()
    clear_proxy_variables(monkeypatch)
    monkeypatch.setattr(hub, "_probes", {})
    monkeypatch.delenv("HF_ENDPOINT", raising=False)  # huggingface.co, which this machine cannot resolve: only the proxy answers
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ValueError) as error:
        HFBackbone(name_or_path="facebook/wav2vec2-xls-r-300m")
    assert "cannot be reached" not in str(error.value) and "did not provide it" in str(error.value)
    assert proxy.requests and all(line.startswith("CONNECT huggingface.co:443") for line in proxy.requests)  # transformers' download

    monkeypatch.setenv("NO_PROXY", "huggingface.co")  # exempt: the hub itself is probed (and cannot be reached here)
    monkeypatch.setattr(hub, "_probes", {})
    proxy.requests.clear()
    assert hub.hub_address() == ("huggingface.co", 443) and proxy.requests == []


def test_an_unreachable_hub_is_probed_once_for_several_models(offline, monkeypatch):
    from ser_lightning.models import hub

    calls = []
    real = hub.socket.create_connection
    monkeypatch.setattr(hub, "_probes", {})
    monkeypatch.setattr(hub.socket, "create_connection", lambda *a, **k: calls.append(a) or real(*a, **k))
    for _ in range(3):
        assert not hub.hub_reachable()
    assert len(calls) == 1


def test_a_hub_that_accepts_connections_and_never_answers_is_told_in_seconds(monkeypatch, tmp_path):
    from ser_lightning.models import hub

    from ..sharing.hub_standin import SilentServer

    monkeypatch.setattr(hub, "_probes", {})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    with SilentServer() as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        start = time.monotonic()
        with pytest.raises(ValueError) as error:
            HFBackbone(name_or_path="facebook/wav2vec2-xls-r-300m")
    assert time.monotonic() - start < 5
    assert f"accepted a connection at {endpoint.removeprefix('http://')} but did not answer within 1 s" in str(error.value)
    assert "\n" not in str(error.value) and "local folder written by save_pretrained" in str(error.value)


def test_every_request_of_huggingface_hubs_client_gets_a_read_timeout_even_one_sent_without(monkeypatch):
    import httpx2
    from huggingface_hub.utils import get_session

    from ser_lightning.models.hub import bound_hub_requests

    from ..sharing.hub_standin import SilentServer

    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1")
    bound_hub_requests()
    bound_hub_requests()  # idempotent: one hook
    with SilentServer() as endpoint:
        start = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            get_session().get(f"{endpoint}/api/whoami-v2", timeout=None)  # huggingface_hub's create_repo and commits pass none
    assert time.monotonic() - start < 5 and len([h for h in get_session().event_hooks["request"] if h.__name__ == "_bound_timeouts"]) == 1
