"""EMO-DB (German): the Berlin Database of Emotional Speech."""

from __future__ import annotations

import re
from pathlib import Path

from ..manifest import Utterance
from .base import Corpus
from .layout import audio_folder, locate, wav_files

# 03a01Fa.wav: speaker 03, text a01, emotion letter F (German), version a
_NAME = re.compile(r"(\d\d)([ab]\d\d)([a-z])([a-z])\.wav", re.IGNORECASE)
GENDER = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}


def _is_layout(folder: Path) -> bool:
    return audio_folder(folder, "wav", _NAME) is not None


class EmoDB(Corpus):
    """EMO-DB as distributed: ``wav/03a01Fa.wav`` (535 utterances, 10 actors, 7 emotions, 16 kHz).

    Name fields: speaker (chars 0-1), text (2-4), emotion letter (5: W angry, L boredom, E disgust,
    A fear, F happy, T sad, N neutral; any case), version (6). The annotation folders ``lablaut/``,
    ``labsilb/``, ``silb/`` are not read. ``extra``: ``code``, ``gender``, ``text``.

    Args:
        root: the folder holding ``wav/``, e.g. ``/data/emodb`` (a parent up to two levels above is also found), or a flat
            copy's folder of the WAVs themselves (``EmoDB/03a01Fa.wav``).
        languages: keep only these languages (EMO-DB is ``de``); None keeps all.
    """

    name = "emodb"
    language = "de"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "EMO-DB", _is_layout, "wav/ with files named like 03a01Fa.wav")
        utterances = []
        for path in wav_files(audio_folder(root, "wav", _NAME)):
            match = _NAME.fullmatch(path.name)
            if match is None or match.group(1) not in GENDER:
                self.skip(path, "not an EMO-DB file name (speaker 03-16, text, emotion letter, version: e.g. 03a01Fa.wav)")
                continue
            speaker, text, code, _ = match.groups()
            utt = self.record(path, code, speaker, gender=GENDER[speaker], text=text)
            if utt is not None:
                utterances.append(utt)
        return utterances
