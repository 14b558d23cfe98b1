"""Hub calls end in bounded time with one line naming the endpoint and the fix: a hub that never answers, one that
refuses connections, a stalled request, a refused token, a missing repository; and a repository that does exist loads
through the same checks as a folder (all against loopback servers: no traffic leaves the machine)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

from ser_lightning.models import EmotionRecognizer
from ser_lightning.models import hub as hub_module
from ser_lightning.sharing.export import main as export
from ser_lightning.sharing.folder_config import ModelFolderError

from .hub_standin import HubStandIn, SilentServer, closed_endpoint
from .tiny import tiny_checkpoint, tiny_export, waves

LIMIT = 1  # seconds: HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT in these tests


@pytest.fixture
def hub_at(monkeypatch, tmp_path):
    """Point huggingface_hub at an endpoint with 1 s timeouts, an empty cache and a fresh probe."""

    def point(endpoint: str, token: str | None = "hf_standin") -> str:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))  # read at import: never the user's cache
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", str(LIMIT))
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", str(LIMIT))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        if token is None:
            monkeypatch.delenv("HF_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.setattr(hub_module, "_probes", {})
        return endpoint

    return point


def load_error(name: str) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(ModelFolderError) as error:
        EmotionRecognizer.from_pretrained(name)
    message = str(error.value)
    assert "\n" not in message
    return message, time.monotonic() - start


def test_from_pretrained_of_a_hub_that_never_answers_ends_in_seconds_with_one_line(hub_at):
    with SilentServer() as endpoint:
        hub_at(endpoint)
        message, seconds = load_error("user/ser-demo")
    assert seconds < 5, seconds
    assert f"'user/ser-demo' is not a folder here, and the hub accepted a connection at {endpoint.removeprefix('http://')}" in message
    assert f"did not answer within {LIMIT} s" in message and "give its export folder" in message and "HF_ENDPOINT" in message
    assert "hf auth login" in message


def test_from_pretrained_of_a_hub_that_cannot_be_reached_is_one_line(hub_at):
    endpoint = hub_at(closed_endpoint())
    message, seconds = load_error("user/ser-demo")
    assert seconds < 5 and f"cannot be reached at {endpoint.removeprefix('http://')}" in message and "the cache holds no copy" in message


def test_a_repository_the_hub_does_not_have_is_one_line(hub_at):
    with HubStandIn() as hub:
        hub_at(hub.endpoint)
        message, _ = load_error("user/missing")
    assert f"as a hub repository: {hub.endpoint} has no such repository, or it is private and the token sent may not read it" in message
    assert "hf auth login" in message


def test_a_pushed_repository_loads_through_the_hub_with_the_same_probabilities_and_then_from_the_cache(hub_at, tmp_path, monkeypatch):
    with HubStandIn() as hub:
        hub_at(hub.endpoint)
        out = tiny_export(tmp_path / "exported", push_to_hub="user/ser-demo")
        from_hub = EmotionRecognizer.from_pretrained("user/ser-demo")
    assert any(path.startswith("/user/ser-demo/resolve/") for _, path in hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the stand-in is gone: the cached copy serves
    cached = EmotionRecognizer.from_pretrained("user/ser-demo")
    local = EmotionRecognizer.from_pretrained(str(out))
    with torch.no_grad():
        expected = local.probabilities(*waves())
        assert torch.equal(from_hub.probabilities(*waves()), expected) and torch.equal(cached.probabilities(*waves()), expected)


def test_a_tampered_repository_is_refused_as_a_folder_is(hub_at, tmp_path):
    with HubStandIn() as hub:
        hub_at(hub.endpoint)
        tiny_export(tmp_path / "exported", push_to_hub="user/ser-demo")
        hub.files["user/ser-demo"]["config.json"] = hub.files["user/ser-demo"]["config.json"].replace(
            b'"ser_lightning.models.CNNLSTM"', b'"evil_package.Backbone"'
        )
        message, _ = load_error("user/ser-demo")
    assert "config.json: hparams.backbone.class_path names 'evil_package.Backbone'" in message


def push_error(capsys, ckpt: Path, out: Path) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(SystemExit) as stop:
        export(["--ckpt_path", str(ckpt), "--out", str(out), "--push-to-hub", "user/ser-demo"])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1, error
    return error, time.monotonic() - start


def test_push_to_a_hub_that_never_answers_ends_in_seconds_before_anything_is_written(hub_at, tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "a.ckpt")
    with SilentServer() as endpoint:
        hub_at(endpoint)
        error, seconds = push_error(capsys, ckpt, tmp_path / "out")
    assert seconds < 5, seconds
    assert f"--push-to-hub user/ser-demo: the hub at {endpoint} accepted a connection" in error and "nothing was written" in error
    assert not (tmp_path / "out").exists()


def test_push_to_an_unreachable_hub_is_one_line_not_a_traceback(hub_at, tmp_path, capsys):
    endpoint = hub_at(closed_endpoint())
    error, seconds = push_error(capsys, tiny_checkpoint(tmp_path / "a.ckpt"), tmp_path / "out")
    assert seconds < 5 and f"the hub at {endpoint} cannot be reached" in error and "httpx" not in error


def test_a_push_request_that_stalls_is_cut_at_the_read_timeout(hub_at, tmp_path, capsys):
    with HubStandIn(stall=("/api/repos/create",)) as hub:
        hub_at(hub.endpoint)
        error, seconds = push_error(capsys, tiny_checkpoint(tmp_path / "a.ckpt"), tmp_path / "out")
    assert seconds < 15, seconds  # huggingface_hub sets no timeout on create_repo: without ours it waits forever
    assert f"--push-to-hub user/ser-demo: {hub.endpoint} did not answer within {LIMIT} s" in error
    assert f"The folder {tmp_path / 'out'} is written" in error and "hf upload user/ser-demo" in error and (tmp_path / "out").is_dir()


def test_a_refused_token_is_one_line_saying_to_log_in(hub_at, tmp_path, capsys):
    with HubStandIn(token="hf_right") as hub:
        hub_at(hub.endpoint, token="hf_wrong")
        error, _ = push_error(capsys, tiny_checkpoint(tmp_path / "a.ckpt"), tmp_path / "out")
    assert f"{hub.endpoint} refused the token (401 Unauthorized)" in error and "hf auth login" in error


def test_push_without_any_token_is_one_line_saying_to_log_in(hub_at, tmp_path, capsys):
    with HubStandIn(token="hf_right") as hub:
        hub_at(hub.endpoint, token=None)
        error, _ = push_error(capsys, tiny_checkpoint(tmp_path / "a.ckpt"), tmp_path / "out")
    assert f"--push-to-hub user/ser-demo: {hub.endpoint} asks for a token and none was sent (401)" in error and "hf auth login" in error
