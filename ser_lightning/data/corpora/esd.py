"""ESD (Emotional Speech Dataset): ten English and ten Mandarin speakers, parallel sentences in five emotions."""

from __future__ import annotations

from pathlib import Path

from ..manifest import Utterance
from .base import Corpus
from .layout import locate, matching_subfolders, subfolders, wav_files

_SPEAKER = r"\d{4}"
_SUBSETS = ("train", "evaluation", "test")


def speaker_language(speaker: str) -> str:
    """ESD's speakers 0001-0010 speak Mandarin (``zh``), 0011-0020 English (``en``)."""
    return "zh" if int(speaker) <= 10 else "en"


def _is_layout(folder: Path) -> bool:
    return any(subfolders(speaker) for speaker in matching_subfolders(folder, _SPEAKER))


class ESD(Corpus):
    """ESD as distributed: ``0011/Angry/0011_000351.wav`` (20 speakers x 5 emotions x 350 utterances, 16 kHz).

    Emotion folders: Neutral, Angry, Happy, Sad, Surprise (or ``Surprised``; any case). Releases that
    split each emotion folder into ``train/``, ``evaluation/``, ``test/`` are read too (the subset goes
    to ``extra["subset"]``). The transcripts ``<speaker>/<speaker>.txt`` are not utterances. Language
    from the speaker id: 0001-0010 ``zh``, 0011-0020 ``en``; use ``languages`` to keep one.
    ``extra``: ``code`` (the folder name), ``subset`` where the release has one.

    Args:
        root: the folder holding ``0001/`` ... ``0020/``, e.g. ``/data/Emotion Speech Dataset`` (or a parent up to two levels above).
        languages: keep only these languages (``en``, ``zh``); None keeps both.
    """

    name = "esd"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "ESD", _is_layout, "speaker folders 0001/ ... 0020/ each with Neutral/ Angry/ Happy/ Sad/ Surprise/")
        utterances = []
        for speaker in matching_subfolders(root, _SPEAKER):
            language = speaker_language(speaker.name)
            for emotion in subfolders(speaker):
                files = [(path, None) for path in wav_files(emotion)]
                for subset in subfolders(emotion):
                    if subset.name.lower() not in _SUBSETS:
                        self.skip(subset, f"not an ESD subset folder ({', '.join(_SUBSETS)})")
                        continue
                    files += [(path, subset.name.lower()) for path in wav_files(subset)]
                for path, subset in files:
                    utt = self.record(path, emotion.name, speaker.name, language, **({"subset": subset} if subset else {}))
                    if utt is not None:
                        utterances.append(utt)
        return utterances
