"""SAVEE (British English): four male speakers, seven emotions."""

from __future__ import annotations

import re
from pathlib import Path

from ..manifest import Utterance
from .base import Corpus
from .layout import child, locate, matching_subfolders, subfolders, wav_files

_CODES = r"(sa|su|a|d|f|h|n)"  # two-letter codes first
_NAME = re.compile(_CODES + r"(\d\d)\.wav", re.IGNORECASE)  # AudioData/DC/sa05.wav
_FLAT_NAME = re.compile(r"([A-Z]{2})_" + _CODES + r"(\d\d)\.wav", re.IGNORECASE)  # ALL/DC_sa05.wav


_SPEAKERS = r"(DC|JE|JK|KL)"


def _is_layout(folder: Path) -> bool:
    return child(folder, "AudioData") is not None or child(folder, "ALL") is not None or bool(matching_subfolders(folder, _SPEAKERS))


class SAVEE(Corpus):
    """SAVEE as distributed: ``AudioData/DC/a01.wav``, or the flat copy ``ALL/DC_a01.wav`` (480 files, 44.1 kHz).

    Speakers DC, JE, JK, KL (all male). Codes (any case): a angry, d disgust, f fear, h happy,
    n neutral, sa sad, su surprise. When both ``AudioData/`` and ``ALL/`` exist only ``AudioData/``
    is read (they hold the same recordings). ``extra``: ``code``, ``gender``, ``sentence``.

    Args:
        root: the folder holding ``AudioData/`` (or ``ALL/``, or the speaker folders ``DC/ JE/ JK/ KL/`` as some zips
            unpack), e.g. ``/data/SAVEE`` (or a parent up to two levels above).
        languages: keep only these languages (SAVEE is ``en``); None keeps all.
    """

    name = "savee"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "SAVEE", _is_layout, "AudioData/<speaker>/a01.wav (or the flat copy ALL/DC_a01.wav)")
        audio = child(root, "AudioData")
        if audio is not None or child(root, "ALL") is None:  # AudioData/DC/a01.wav, or the zip's DC/a01.wav without AudioData/
            speakers = subfolders(audio) if audio is not None else matching_subfolders(root, _SPEAKERS)
            files = [(path, speaker.name, _NAME.fullmatch(path.name)) for speaker in speakers for path in wav_files(speaker)]
            pattern = "<code><nn>.wav, e.g. sa05.wav"
        else:
            files = [(path, None, _FLAT_NAME.fullmatch(path.name)) for path in wav_files(child(root, "ALL"))]
            pattern = "<speaker>_<code><nn>.wav, e.g. DC_sa05.wav"
        utterances = []
        for path, speaker, match in files:
            if match is None:
                self.skip(path, f"not a SAVEE file name ({pattern})")
                continue
            if speaker is None:
                speaker, code, sentence = match.groups()
            else:
                code, sentence = match.groups()
            utt = self.record(path, code, speaker.upper(), gender="m", sentence=sentence)
            if utt is not None:
                utterances.append(utt)
        return utterances
