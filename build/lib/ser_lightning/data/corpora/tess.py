"""TESS (Canadian English): the Toronto emotional speech set, two female speakers."""

from __future__ import annotations

import re

from ..labels import native_word
from ..manifest import ManifestError, Utterance
from .base import Corpus
from .files import locate, matching_subfolders, wav_files

_FOLDER = r"(OAF|YAF)_.+"
# OAF_back_angry.wav: speaker, word, emotion (ps = pleasant surprise)
_NAME = re.compile(r"(OAF|YAF)_(.+)_([a-z]+)\.wav", re.IGNORECASE)


class TESS(Corpus):
    """TESS as distributed: ``OAF_angry/OAF_back_angry.wav`` (2,800 files, 2 speakers, 200 words, 24.4 kHz).

    The emotion comes from the file name's last field (angry, disgust, fear, happy, neutral, ps =
    pleasant surprise, sad; any case), so the folders' varying spellings (``OAF_Pleasant_surprise``,
    ``YAF_pleasant_surprised``, ``OAF_Fear``) do not matter. Speakers: OAF (older) and YAF (younger),
    both female. ``extra``: ``code``, ``gender``, ``word``.

    Args:
        root: the folder holding ``OAF_angry/`` ... ``YAF_sad/``, e.g. ``/data/TESS Toronto emotional speech set data``
            (or a parent up to two levels above).
        languages: keep only these languages (TESS is ``en``); None keeps all.
    """

    name = "tess"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "TESS", lambda f: bool(matching_subfolders(f, _FOLDER)), "folders OAF_<emotion>/ and YAF_<emotion>/ with files like OAF_back_angry.wav")
        utterances = []
        for folder in matching_subfolders(root, _FOLDER):
            for path in wav_files(folder):
                match = _NAME.fullmatch(path.name)
                if match is None:
                    raise ManifestError(f"{path}: not a TESS file name (<speaker>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav); remove it from {folder}.")
                speaker, word, code = match.groups()
                utterances.append(
                    Utterance(
                        path=str(path),
                        label=native_word(self.name, code, path),
                        speaker=speaker.upper(),
                        language=self.language,
                        corpus=self.name,
                        extra={"code": code, "gender": "f", "word": word.lower()},
                    )
                )
        return utterances
