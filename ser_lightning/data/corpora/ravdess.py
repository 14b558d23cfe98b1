"""RAVDESS (North American English): the audio-only speech files of 24 actors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..manifest import ManifestError, Utterance
from .base import Corpus
from .layout import describe, matching_subfolders, subfolders, wav_files

_ACTOR = r"Actor_\d+"
# 03-01-06-01-02-01-12.wav: modality, vocal channel, emotion, intensity, statement, repetition, actor
_NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav")
_CHANNEL = {"01": "speech", "02": "song"}
_INTENSITY = {"01": "normal", "02": "strong"}


def actor_folders(root: Path, depth: int = 2) -> list[Path]:
    """Every ``Actor_NN`` folder at or up to ``depth`` levels below ``root`` (speech and song releases may sit side by side)."""
    found, level = [], [root]
    for _ in range(depth + 1):
        found += [actor for folder in level for actor in matching_subfolders(folder, _ACTOR)]
        level = [sub for folder in level for sub in subfolders(folder) if not re.fullmatch(_ACTOR, sub.name, re.IGNORECASE)]
    return found


class RAVDESS(Corpus):
    """RAVDESS as distributed: ``Actor_01/03-01-06-01-02-01-12.wav`` (1,440 speech files, 24 actors, 48 kHz).

    Name fields: modality, vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy,
    04 sad, 05 angry, 06 fear, 07 disgust, 08 surprise: calm is not neutral), intensity, statement,
    repetition, actor (odd male, even female). Song files are a different task and are skipped
    unless ``include_song``. Every ``Actor_NN`` folder up to two levels below ``root`` is read
    (``Audio_Speech_Actors_01-24/`` and ``Audio_Song_Actors_01-24/`` side by side); a file name seen
    twice (some copies hold the tree twice) is taken once. ``extra``: ``code``, ``gender``,
    ``channel``, ``intensity``, ``statement``, ``repetition``.

    Args:
        root: the folder holding ``Actor_01/`` ... ``Actor_24/``, e.g. ``/data/Audio_Speech_Actors_01-24``.
        languages: keep only these languages (RAVDESS is ``en``); None keeps all.
        include_song: also take the sung files (vocal channel 02).
    """

    name = "ravdess"
    language = "en"

    def __init__(self, root: str, languages: Sequence[str] | None = None, include_song: bool = False, strict: bool = False) -> None:
        super().__init__(root, languages, strict)
        self.include_song = include_song

    def parse(self) -> list[Utterance]:
        actors = actor_folders(self.root)
        if not actors:
            raise ManifestError(
                f"RAVDESS: {self.root} does not have the layout of the corpus as distributed: expected Actor_01/ ... Actor_24/ "
                f"with files like 03-01-06-01-02-01-12.wav; found {describe(self.root)}. Set `root` to the folder you downloaded."
            )
        utterances, seen = [], set()
        for actor in actors:
            for path in wav_files(actor):
                match = _NAME.fullmatch(path.name)
                if match is None or match.group(2) not in _CHANNEL or match.group(7) != actor.name[-2:]:
                    self.skip(path, f"not a RAVDESS file name of {actor.name} (seven two-digit fields, e.g. 03-01-06-01-02-01-12.wav)")
                    continue
                _, channel, code, intensity, statement, repetition, speaker = match.groups()
                if path.name in seen or (_CHANNEL[channel] == "song" and not self.include_song):
                    continue
                seen.add(path.name)
                extra = {"gender": "m" if int(speaker) % 2 else "f", "channel": _CHANNEL[channel], "intensity": _INTENSITY.get(intensity, intensity)}
                utt = self.record(path, code, speaker, **extra, statement=statement, repetition=repetition)
                if utt is not None:
                    utterances.append(utt)
        return utterances
