"""CREMA-D (English): 7,442 clips of 91 actors, six emotions."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..manifest import ManifestError, Utterance
from .base import Corpus
from .layout import audio_folder, locate, wav_files

# 1001_DFA_ANG_XX.wav: actor, sentence, emotion, level
_NAME = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav", re.IGNORECASE)
_SEX = {"male": "m", "female": "f"}


def _is_layout(folder: Path) -> bool:
    return audio_folder(folder, "AudioWAV", _NAME) is not None


def read_genders(path: Path) -> dict[str, str]:
    """ActorID -> "f"/"m" from ``VideoDemographics.csv`` (empty when the file is absent)."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"ActorID", "Sex"} <= set(rows[0]):
        raise ManifestError(f"{path}: expected the columns ActorID and Sex, found {list(rows[0])}.")
    return {row["ActorID"].strip(): _SEX[row["Sex"].strip().lower()] for row in rows if row["Sex"].strip().lower() in _SEX}


class CREMAD(Corpus):
    """CREMA-D as distributed: ``AudioWAV/1001_DFA_ANG_XX.wav`` (7,442 clips, 91 actors, 16 kHz).

    Name fields: actor (1001-1091), sentence code, emotion (ANG angry, DIS disgust, FEA fear, HAP happy,
    NEU neutral, SAD sad), level (LO, MD, HI, XX unspecified). Gender comes from ``VideoDemographics.csv``
    beside ``AudioWAV/`` when present. ``AudioMP3/``, ``VideoFlash/`` and other folders are not read.
    ``extra``: ``code``, ``gender`` (when known), ``sentence``, ``level``.

    Args:
        root: the folder holding ``AudioWAV/``, e.g. ``/data/CREMA-D`` (or a parent up to two levels above), or a flat
            copy's folder of the WAVs themselves.
        languages: keep only these languages (CREMA-D is ``en``); None keeps all.
    """

    name = "cremad"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "CREMA-D", _is_layout, "AudioWAV/ with files like 1001_DFA_ANG_XX.wav")
        genders = read_genders(root / "VideoDemographics.csv")
        utterances = []
        for path in wav_files(audio_folder(root, "AudioWAV", _NAME)):
            match = _NAME.fullmatch(path.name)
            if match is None:
                self.skip(path, "not a CREMA-D file name (<actor>_<sentence>_<emotion>_<level>.wav, e.g. 1001_DFA_ANG_XX.wav)")
                continue
            speaker, sentence, code, level = match.groups()
            extra = {"sentence": sentence.upper(), "level": level.upper()} | ({"gender": genders[speaker]} if speaker in genders else {})
            utt = self.record(path, code, speaker, **extra)
            if utt is not None:
                utterances.append(utt)
        return utterances
