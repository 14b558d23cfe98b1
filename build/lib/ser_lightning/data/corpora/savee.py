"""SAVEE (British English): four male speakers, seven emotions."""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import native_word
from ..manifest import ManifestError, Utterance
from .base import Corpus
from .files import child, locate, subfolders, wav_files

_CODES = r"(sa|su|a|d|f|h|n)"  # two-letter codes first
_NAME = re.compile(_CODES + r"(\d\d)\.wav", re.IGNORECASE)  # AudioData/DC/sa05.wav
_FLAT_NAME = re.compile(r"([A-Z]{2})_" + _CODES + r"(\d\d)\.wav", re.IGNORECASE)  # ALL/DC_sa05.wav


def _is_layout(folder: Path) -> bool:
    return child(folder, "AudioData") is not None or child(folder, "ALL") is not None


class SAVEE(Corpus):
    """SAVEE as distributed: ``AudioData/DC/a01.wav``, or the flat copy ``ALL/DC_a01.wav`` (480 files, 44.1 kHz).

    Speakers DC, JE, JK, KL (all male). Codes (any case): a angry, d disgust, f fear, h happy,
    n neutral, sa sad, su surprise. When both ``AudioData/`` and ``ALL/`` exist only ``AudioData/``
    is read (they hold the same recordings). ``extra``: ``code``, ``gender``, ``sentence``.

    Args:
        root: the folder holding ``AudioData/`` (or ``ALL/``), e.g. ``/data/SAVEE`` (or a parent up to two levels above).
        languages: keep only these languages (SAVEE is ``en``); None keeps all.
    """

    name = "savee"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "SAVEE", _is_layout, "AudioData/<speaker>/a01.wav (or the flat copy ALL/DC_a01.wav)")
        audio = child(root, "AudioData")
        if audio is not None:
            files = [(path, speaker.name, _NAME.fullmatch(path.name)) for speaker in subfolders(audio) for path in wav_files(speaker)]
            pattern = "<code><nn>.wav, e.g. sa05.wav"
        else:
            files = [(path, None, _FLAT_NAME.fullmatch(path.name)) for path in wav_files(child(root, "ALL"))]
            pattern = "<speaker>_<code><nn>.wav, e.g. DC_sa05.wav"
        utterances = []
        for path, speaker, match in files:
            if match is None:
                raise ManifestError(f"{path}: not a SAVEE file name ({pattern}); remove it from {path.parent}.")
            if speaker is None:
                speaker, code, sentence = match.groups()
            else:
                code, sentence = match.groups()
            utterances.append(
                Utterance(
                    path=str(path),
                    label=native_word(self.name, code, path),
                    speaker=speaker.upper(),
                    language=self.language,
                    corpus=self.name,
                    extra={"code": code, "gender": "m", "sentence": sentence},
                )
            )
        return utterances
