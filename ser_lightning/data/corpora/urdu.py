"""URDU (Latif et al., 2018): natural emotional speech from Urdu TV talk shows."""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import NATIVE_CODES, native_word
from ..manifest import Utterance
from .base import Corpus
from .layout import locate, subfolders, wav_files

_EMOTION_FOLDERS = {name.lower() for name in NATIVE_CODES["urdu"]}
# SM1_F10_A010.wav: speaker (S + gender + number), file of that speaker, emotion letter + index
_NAME = re.compile(r"(S([MF])\d+)_(F\d+)_([A-Z])\d+\.wav", re.IGNORECASE)


def _emotion_folders(folder: Path) -> list[Path]:
    return [sub for sub in subfolders(folder) if sub.name.lower() in _EMOTION_FOLDERS]


class URDU(Corpus):
    """URDU as distributed (github.com/siddiquelatif/URDU-Dataset): ``Angry/SM1_F1_A01.wav`` (400 files, 4 emotions).

    The emotion comes from the folder (``Angry``, ``Happy``, ``Neutral``, ``Sad``; any case), the
    speaker from the name's first field (``SM1`` male 1, ``SF3`` female 3: 29 ids). Sample rates vary:
    audio is resampled on loading. ``extra``: ``code`` (the folder name), ``gender``, ``file``.

    Args:
        root: the folder holding ``Angry/ Happy/ Neutral/ Sad/``, e.g. ``/data/URDU-Dataset`` (or a parent up to two levels above).
        languages: keep only these languages (URDU is ``ur``); None keeps all.
    """

    name = "urdu"
    language = "ur"

    def parse(self) -> list[Utterance]:
        root = locate(
            self.root, "URDU", lambda f: bool(_emotion_folders(f)), "emotion folders Angry/ Happy/ Neutral/ Sad/ with files like SM1_F1_A01.wav"
        )
        utterances = []
        for folder in _emotion_folders(root):
            label = native_word(self.name, folder.name, folder)
            for path in wav_files(folder):
                match = _NAME.fullmatch(path.name)
                if match is None:
                    self.skip(path, "not a URDU file name (<speaker>_<file>_<emotion><index>.wav, e.g. SM1_F1_A01.wav): no speaker")
                    continue
                speaker, gender, file, _ = match.groups()
                utterances.append(
                    Utterance(
                        str(path),
                        label,
                        speaker.upper(),
                        self.language,
                        self.name,
                        extra={"code": folder.name, "gender": gender.lower(), "file": file.upper()},
                    )
                )
        return utterances
