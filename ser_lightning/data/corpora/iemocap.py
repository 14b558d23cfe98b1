"""IEMOCAP (English, USC SAIL): five sessions of dyadic improvised and scripted dialogues."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..labels import native_word
from ..manifest import ManifestError, Utterance
from .base import Corpus
from .layout import locate, matching_subfolders, visible

_SESSION = r"Session\d+"
# [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
_LINE = re.compile(r"\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]")
_UTTERANCE_ID = re.compile(r"Ses(\d+)[FM]_(.+)_([FM])\d+")


def _is_layout(folder: Path) -> bool:
    return any((session / "dialog" / "EmoEvaluation").is_dir() for session in matching_subfolders(folder, _SESSION))


class IEMOCAP(Corpus):
    """IEMOCAP as released (``IEMOCAP_full_release``): 10,039 utterances of 10 actors in 5 sessions, 16 kHz.

    Labels come from ``SessionN/dialog/EmoEvaluation/<dialog>.txt`` (only the ``*.txt`` directly there:
    ``Categorical/``, ``Attribute/`` and ``Self-evaluation/`` hold per-annotator files, and annotator lines
    such as ``C-E2:`` are skipped); audio from ``SessionN/sentences/wav/<dialog>/<utterance id>.wav``.
    Whole-dialogue WAVs (``SessionN/dialog/wav/``) and hidden ``._*`` files are never read.

    Each record: label from the consensus code (``exc`` is ``excited``, which ``categorical4`` counts
    as happy; ``oth`` is ``other`` and ``xxx`` (no agreement) is ``no_agreement``: no named space keeps
    those two), speaker = session + the gender letter of the utterance id's last part
    (``Ses01F_impro01_M001`` -> ``Ses01M``: the dialog's ``F`` is who the session recorded first),
    ``extra``: ``code``, ``gender``, ``session`` (1-5), ``improvised`` (bool), ``dialog`` and the
    annotators' mean ``valence``, ``activation``, ``dominance`` (1-5 scales).

    Args:
        root: the folder holding ``Session1`` ... ``Session5``, e.g. ``/data/IEMOCAP_full_release``
            (a parent folder up to two levels above is also found).
        languages: keep only these languages (IEMOCAP is ``en``); None keeps all.
    """

    name = "iemocap"
    language = "en"

    def parse(self) -> list[Utterance]:
        root = locate(self.root, "IEMOCAP", _is_layout, "Session1/ ... Session5/ each with dialog/EmoEvaluation/*.txt and sentences/wav/")
        utterances: list[Utterance] = []
        for session in matching_subfolders(root, _SESSION):
            evaluation = session / "dialog" / "EmoEvaluation"
            for table in sorted(p for p in evaluation.glob("*.txt") if visible(p.name) and p.is_file()):
                utterances.extend(self._parse_table(table, session))
        return utterances

    def _parse_table(self, table: Path, session: Path) -> list[Utterance]:
        utterances = []
        audio = os.path.join(session, "sentences", "wav")  # plain strings: Path joins were half of the parse time
        for number, line in enumerate(table.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.startswith("["):
                continue  # annotator lines (C-E2:, A-E3:), the % header, blank lines
            match = _LINE.match(line)
            source = f"{table}:{number}"
            if match is None:
                self.skip(source, f"expected `[start - end]<TAB>utterance id<TAB>code<TAB>[V, A, D]`, got {line.strip()!r}")
                continue
            start, end, utterance_id, code, vad = match.groups()
            parts = _UTTERANCE_ID.fullmatch(utterance_id)
            if parts is None:
                self.skip(source, f"{utterance_id!r} is not an IEMOCAP utterance id like Ses01F_impro01_F000")
                continue
            session_number, dialog_part, letter = parts.groups()
            try:
                valence, activation, dominance = (float(v) for v in vad.split(","))
            except ValueError:
                self.skip(source, f"expected three numbers in [V, A, D], got [{vad}]")
                continue
            dialog = utterance_id.rsplit("_", 1)[0]
            try:
                label = native_word(self.name, code, source)
            except ManifestError:
                if self.strict:
                    raise
                self.skip(source, f"unknown IEMOCAP emotion code {code!r}")
                continue
            utterances.append(
                Utterance(
                    path=os.path.join(audio, dialog, f"{utterance_id}.wav"),
                    label=label,
                    speaker=f"Ses{session_number}{letter}",
                    language=self.language,
                    corpus=self.name,
                    extra={
                        "code": code,
                        "gender": letter.lower(),
                        "session": int(session_number),
                        "improvised": dialog_part.startswith("impro"),
                        "dialog": dialog,
                        "valence": valence,
                        "activation": activation,
                        "dominance": dominance,
                    },
                )
            )
        return utterances
