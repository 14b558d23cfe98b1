"""The registry of real corpora by name (``emodb`` -> :class:`EmoDB`), for the command line and named configs."""

from __future__ import annotations

from .base import Corpus
from .cremad import CREMAD
from .emodb import EmoDB
from .emovo import EMOVO
from .esd import ESD
from .iemocap import IEMOCAP
from .ravdess import RAVDESS
from .savee import SAVEE
from .shemo import ShEMO
from .tess import TESS
from .urdu import URDU

CORPORA: dict[str, type[Corpus]] = {cls.name: cls for cls in (IEMOCAP, EmoDB, EMOVO, URDU, RAVDESS, CREMAD, SAVEE, TESS, ShEMO, ESD)}


def get_corpus(name: str) -> type[Corpus]:
    """The corpus class registered as ``name`` (case-insensitive); the error lists the names."""
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown corpus {name!r}; choose one of {sorted(CORPORA)}.") from None
