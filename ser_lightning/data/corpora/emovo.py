"""EMOVO (Italian): six actors, fourteen sentences, seven emotions."""

from __future__ import annotations

import re
from pathlib import Path

from ..manifest import Utterance
from .base import Corpus
from .layout import locate, matching_subfolders, wav_files

_ACTOR = r"[fm]\d"
# rab-f1-b1.wav: emotion code (Italian), actor, sentence
_NAME = re.compile(r"([a-z]+)-([fm]\d)-([a-z]\d+)\.wav", re.IGNORECASE)


def _is_layout(folder: Path) -> bool:
    return bool(matching_subfolders(folder, _ACTOR))


class EMOVO(Corpus):
    """EMOVO as distributed: one folder per actor, ``f1/rab-f1-b1.wav`` (588 utterances, 6 actors, 48 kHz).

    Codes (any case): neu neutral, gio happy, rab angry, tri sad, pau fear, dis disgust, sor surprise.
    Copies that nest the actor folders under ``EMOVO/`` or ``data/`` are found; other folders
    (e.g. ``documents/``) are not read. ``extra``: ``code``, ``gender``, ``sentence``.

    Args:
        root: the folder holding ``f1/ f2/ f3/ m1/ m2/ m3/``, e.g. ``/data/EMOVO`` (or a parent up to two levels above).
        languages: keep only these languages (EMOVO is ``it``); None keeps all.
    """

    name = "emovo"
    language = "it"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "EMOVO", _is_layout, "actor folders f1/ f2/ f3/ m1/ m2/ m3/ with files like rab-f1-b1.wav")
        utterances = []
        for actor in matching_subfolders(root, _ACTOR):
            for path in wav_files(actor):
                match = _NAME.fullmatch(path.name)
                if match is None or match.group(2).lower() != actor.name.lower():
                    self.skip(path, f"not an EMOVO file name of actor {actor.name} (<emotion>-<actor>-<sentence>.wav, e.g. rab-f1-b1.wav)")
                    continue
                code, speaker, sentence = match.groups()
                speaker = speaker.lower()
                utt = self.record(path, code, speaker, gender=speaker[0], sentence=sentence.lower())
                if utt is not None:
                    utterances.append(utt)
        return utterances
