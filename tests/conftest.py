"""Shared fixtures: a small synthetic corpus generated once per test session, and small audio files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ser_lightning.data.demo import SynthesisSpec, synthesize_corpus

# 4 languages x 3 speakers x 4 emotions x 2 sentences = 96 utterances: enough for 1 train, 1 val and 1 test speaker per language.
SMALL_SPEC = dict(speakers_per_language=3, sentences_per_language=2, seed=0)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a small synthetic corpus (read-only for tests: copy it before changing files)."""
    root = tmp_path_factory.mktemp("corpus") / "synthetic"
    synthesize_corpus(root, SynthesisSpec(**SMALL_SPEC))
    return root


@pytest.fixture(scope="session", autouse=True)
def probe_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Header-probe caches go to a session folder (subprocesses inherit it), never to the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("SER_LIGHTNING_CACHE")
    os.environ["SER_LIGHTNING_CACHE"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["SER_LIGHTNING_CACHE"]
    else:
        os.environ["SER_LIGHTNING_CACHE"] = previous
