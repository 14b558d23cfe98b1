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


# The fast loop (`pytest -m "not slow and not ddp"`) trains a few optimizer steps per test at most; a test that needs
# a whole fit is marked `slow`. Counted in this process with torch's global optimizer-step hook (the fits a test starts
# in a subprocess are marked slow by hand: test_architecture-style checks cannot see them).
FAST_LOOP_STEPS = 25


@pytest.fixture(autouse=True)
def training_steps(request: pytest.FixtureRequest) -> Iterator[list[int]]:
    """Counts the optimizer steps the test takes; a test outside `slow`/`ddp` that takes more than FAST_LOOP_STEPS fails."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    steps = [0]

    def count(optimizer: object, args: object, kwargs: object) -> None:
        steps[0] += 1

    handle = register_optimizer_step_post_hook(count)
    try:
        yield steps
    finally:
        handle.remove()
    report = os.environ.get("SER_TEST_STEPS_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"{steps[0]}\t{request.node.nodeid}\n")
    marked = {mark.name for mark in request.node.iter_markers()}
    if steps[0] > FAST_LOOP_STEPS and not marked & {"slow", "ddp"}:
        pytest.fail(f"{request.node.nodeid} took {steps[0]} optimizer steps; the fast loop allows {FAST_LOOP_STEPS}: mark it slow or train less.")
