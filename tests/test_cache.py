"""One cache root for the whole package: $SER_LIGHTNING_CACHE, else platformdirs' user cache folder (XDG on Linux)."""

from __future__ import annotations

import sys

import pytest

from ser_lightning.cache import CACHE_ENV, cache_root
from ser_lightning.data.probe_cache import probe_cache_file
from ser_lightning.features import FeatureCache
from ser_lightning.models import ctranslate2


def test_the_environment_variable_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "mine"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is the Linux convention")
def test_without_it_the_user_cache_folder_honours_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "ser_lightning"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "ser_lightning"


def test_probes_features_and_converted_weights_all_live_under_the_one_root(tmp_path, monkeypatch):
    root = tmp_path / "xdg" / "ser_lightning"
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if not sys.platform.startswith("linux"):
        root = cache_root()
    assert probe_cache_file("manifest", tmp_path / "corpus").parent == root / "probe"
    assert FeatureCache(enabled=True).root == root / "features"

    model = tmp_path / "ct2"
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights")
    monkeypatch.setattr(ctranslate2, "convert_whisper", lambda src, dst: dst)  # where it would convert to, without converting
    assert ctranslate2.cached_conversion(model).parent == root / "whisper-ct2"
    assert ctranslate2.cached_conversion(model, tmp_path / "given").parent == tmp_path / "given" / "whisper-ct2"
