"""ShEMO (Persian): the Sharif emotional speech database, radio plays."""

from __future__ import annotations

import re
from pathlib import Path

from ..manifest import Utterance
from .base import Corpus
from .layout import child, locate, wav_files

# F01A01.wav: gender, speaker number within the gender, emotion letter, index
_NAME = re.compile(r"([FM])(\d\d)([A-Z])(\d+)\.wav", re.IGNORECASE)


def _gender_folders(folder: Path) -> list[Path]:
    return [sub for sub in (child(folder, "female"), child(folder, "male")) if sub is not None]


def _is_layout(folder: Path) -> bool:
    return bool(_gender_folders(folder)) or any(_NAME.fullmatch(path.name) for path in wav_files(folder))


class ShEMO(Corpus):
    """ShEMO as distributed: ``female/F01A01.wav`` and ``male/M12N03.wav``, or a flat copy (3,000 files, 87 speakers, 44.1 kHz).

    Name fields: gender letter, two-digit speaker within the gender (F01 and M01 are different people:
    the speaker id keeps the letter), emotion letter (A angry, H happy, N neutral, S sad, W surprise,
    F fear; any case), index. When ``female/``/``male/`` exist, files beside them are not read.
    ``extra``: ``code``, ``gender``.

    Args:
        root: the folder holding ``female/`` and ``male/`` (or the flat files), e.g. ``/data/ShEMO``
            (or a parent up to two levels above).
        languages: keep only these languages (ShEMO is ``fa``); None keeps all.
    """

    name = "shemo"
    language = "fa"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "ShEMO", _is_layout, "female/ and male/ (or one flat folder) with files like F01A01.wav")
        folders = _gender_folders(root) or [root]
        utterances = []
        for folder in folders:
            for path in wav_files(folder):
                match = _NAME.fullmatch(path.name)
                if match is None:
                    self.skip(path, "not a ShEMO file name (<gender><speaker><emotion><index>.wav, e.g. F01A01.wav)")
                    continue
                gender, number, code, _ = match.groups()
                utt = self.record(path, code, f"{gender.upper()}{number}", gender=gender.lower())
                if utt is not None:
                    utterances.append(utt)
        return utterances
