"""Corpus parsers: one small module per corpus, all producing :class:`~ser_lightning.data.manifest.Utterance` lists."""

from .base import Corpus
from .jsonl import ManifestCorpus
from .synthetic import SyntheticCorpus

__all__ = ["Corpus", "ManifestCorpus", "SyntheticCorpus"]
