"""TESS (Canadian English): the Toronto emotional speech set, two female speakers."""

from __future__ import annotations

import re

from ..manifest import Utterance
from .base import Corpus
from .layout import locate, matching_subfolders, wav_files

_FOLDER = r"(OAF|YAF)_.+"
# OAF_back_angry.wav: speaker, word, emotion (ps = pleasant surprise); the speaker field is checked against the folder's
_NAME = re.compile(r"([A-Z]+)_(.+)_([a-z]+)\.wav", re.IGNORECASE)


class TESS(Corpus):
    """TESS as distributed: ``OAF_angry/OAF_back_angry.wav`` (2,800 files, 2 speakers, 200 words, 24.4 kHz).

    The emotion comes from the file name's last field (angry, disgust, fear, happy, neutral, ps =
    pleasant surprise, sad; any case), so the folders' varying spellings (``OAF_Pleasant_surprise``,
    ``YAF_pleasant_surprised``, ``OAF_Fear``) do not matter. Speakers: OAF (older) and YAF (younger),
    both female, read from the folder: the release's ``OAF_neutral/OA_bite_neutral.wav`` (a speaker field
    of ``OA``) is OAF's. Other quirks of the release, all read as they are: two AIFF files behind ``.wav``
    names (``YAF_angry/YAF_germ_angry.wav``, ``YAF_fear/YAF_neat_fear.wav``), one 96 kHz file among
    24,414 Hz ones (``OAF_Fear/OAF_food_fear.wav``), trailing ``LIST`` chunks. ``extra``: ``code``, ``gender``, ``word``.

    Args:
        root: the folder holding ``OAF_angry/`` ... ``YAF_sad/``, e.g. ``/data/TESS Toronto emotional speech set data``
            (or a parent up to two levels above).
        languages: keep only these languages (TESS is ``en``); None keeps all.
    """

    name = "tess"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(
            self.root,
            "TESS",
            lambda f: bool(matching_subfolders(f, _FOLDER)),
            "folders OAF_<emotion>/ and YAF_<emotion>/ with files like OAF_back_angry.wav",
        )
        utterances = []
        for folder in matching_subfolders(root, _FOLDER):
            speaker = folder.name.split("_", 1)[0].upper()
            for path in wav_files(folder):
                match = _NAME.fullmatch(path.name)
                if match is None:
                    self.skip(path, "not a TESS file name (<speaker>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav)")
                    continue
                named, word, code = match.groups()
                if not speaker.startswith(named.upper()):
                    self.skip(path, f"its speaker field {named!r} contradicts its folder {folder.name}")
                    continue
                utt = self.record(path, code, speaker, gender="f", word=word.lower())
                if utt is not None:
                    utterances.append(utt)
        return utterances
