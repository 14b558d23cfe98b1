"""Corpus parsers: one small module per corpus, all producing :class:`~ser_lightning.data.manifest.Utterance` lists."""

from .base import Corpus
from .cremad import CREMAD
from .emodb import EmoDB
from .emovo import EMOVO
from .esd import ESD
from .iemocap import IEMOCAP
from .jsonl import ManifestCorpus
from .ravdess import RAVDESS
from .registry import CORPORA, get_corpus
from .savee import SAVEE
from .shemo import ShEMO
from .synthetic import SyntheticCorpus
from .tess import TESS
from .urdu import URDU

__all__ = [
    "CORPORA",
    "CREMAD",
    "Corpus",
    "EMOVO",
    "ESD",
    "EmoDB",
    "IEMOCAP",
    "ManifestCorpus",
    "RAVDESS",
    "SAVEE",
    "ShEMO",
    "SyntheticCorpus",
    "TESS",
    "URDU",
    "get_corpus",
]
