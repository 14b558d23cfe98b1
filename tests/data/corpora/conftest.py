"""The ten miniature corpora, written once per test session (read-only for tests: copy a tree before changing it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .trees import make_all


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Registry name -> the root a user would give for that miniature corpus."""
    return make_all(tmp_path_factory.mktemp("corpora"))
