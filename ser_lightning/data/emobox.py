"""EmoBox's published folds: a split plan that reads EmoBox's partition files against a local copy of the corpus.

EmoBox (github.com/emo-box/EmoBox, MIT) publishes, for 32 corpora, the lists that its leaderboard trains and tests on:
``data/<corpus>/fold_<n>/<corpus>_{train,test}_fold_<n>.jsonl``, one JSON object per line such as
``{"key": "urdu-SM5_F63_N091", "wav": "downloads/urdu/Neutral/SM5_F63_N091.wav", "emo": "N", ...}``. The key is the
corpus name, a dash and the audio file's stem, so a local copy as distributed is matched file by file, and an
in-corpus result of this toolkit uses exactly the leaderboard's folds.

Those folds are not all speaker-independent: every EMO-DB test fold holds all ten speakers, and URDU's single fold
is a random quarter of the files (18 of its 19 test speakers also train). The plan says so in the run's log and
``split.json`` (``test_speakers_in_training``); :class:`~ser_lightning.data.plans.CorpusFolds` gives the
speaker-independent folds of the same corpus for comparison.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .corpora import Corpus
from .labels import NATIVE_CODES, native_word
from .manifest import ManifestError, Utterance
from .plans import Loader, SplitPlan, as_source
from .splits import Split

ValidationUnit = Literal["speaker", "utterance"]
PARTS = ("train", "test")
_FOLD = re.compile(r"fold_(\d+)")

# EmoBox's label words that are not this toolkit's emotion words, per corpus (``*``: any corpus). Used only to
# cross-check labels; the plan's labels are always the local parser's.
EMOBOX_WORDS: dict[str, dict[str, str]] = {
    "*": {"anger": "angry", "boredem": "boredom", "fearful": "fear", "surprised": "surprise", "happiness": "happy", "sadness": "sad"},
    "urdu": {"a": "angry", "h": "happy", "n": "neutral", "s": "sad"},
}


def _emotion_words() -> set[str]:
    return {word for table in NATIVE_CODES.values() for word in table.values()}


def emobox_word(corpus: str, emo: str) -> str | None:
    """This toolkit's emotion word for EmoBox's label ``emo`` of ``corpus`` (``anger`` -> ``angry``), or None if unknown."""
    lower = str(emo).strip().lower()
    for table in (EMOBOX_WORDS.get(corpus, {}), EMOBOX_WORDS["*"]):
        if lower in table:
            return table[lower]
    if lower in _emotion_words():
        return lower
    if corpus in NATIVE_CODES:
        try:
            return native_word(corpus, lower, "EmoBox")
        except ManifestError:
            return None
    return None


def fold_folder(partitions: str | Path, name: str) -> Path:
    """The folder holding ``name``'s ``fold_<n>/`` folders: ``partitions`` itself, its ``<name>/`` or its ``data/<name>/``."""
    root = Path(partitions)
    if not root.is_dir():
        raise ManifestError(f"EmoBox partitions folder {root} does not exist; set `partitions` to EmoBox's data/ folder (github.com/emo-box/EmoBox).")
    for candidate in (root / name, root / "data" / name, root):
        if any(_FOLD.fullmatch(p.name) for p in candidate.glob("fold_*") if p.is_dir()):
            return candidate
    raise ManifestError(
        f"No EmoBox folds of {name!r} under {root} (looked for {root / name}/fold_1/, {root / 'data' / name}/fold_1/ and {root}/fold_1/); "
        "set `partitions` to EmoBox's data/ folder, or `name` to the corpus's name in EmoBox."
    )


def emobox_folds(partitions: str | Path, name: str) -> list[int]:
    """The fold numbers EmoBox publishes for ``name`` (1-based, as in its file names)."""
    folder = fold_folder(partitions, name)
    return sorted(int(match.group(1)) for p in folder.glob("fold_*") if p.is_dir() and (match := _FOLD.fullmatch(p.name)))


def partition_file(partitions: str | Path, name: str, fold: int, part: str) -> Path:
    """``<name>_<part>_fold_<fold>.jsonl`` of EmoBox's fold ``fold``; the error lists the folds there are."""
    folder = fold_folder(partitions, name)
    path = folder / f"fold_{fold}" / f"{name}_{part}_fold_{fold}.jsonl"
    if not path.is_file():
        folds = emobox_folds(partitions, name)
        raise ManifestError(f"{path} does not exist; EmoBox's {name} folds under {folder} are {folds}: set `fold` to one of them.")
    return path


def read_partition(path: Path, name: str) -> list[tuple[str, str | None]]:
    """(file stem, EmoBox label) per line of a partition file; the stem is the key without ``<name>-``, else the audio's stem."""
    entries = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ManifestError(f"{path}:{number} is not JSON ({error.msg}); use EmoBox's partition files as published.") from None
            if not isinstance(row, dict) or not (row.get("key") or row.get("wav") or row.get("audio")):
                raise ManifestError(f"{path}:{number} has no `key` (e.g. '{name}-03a01Fa'); use EmoBox's partition files as published.")
            key = str(row.get("key") or "")
            if key.startswith(f"{name}-"):
                stem = key[len(name) + 1 :]
            else:
                stem = Path(str(row.get("wav") or row.get("audio") or key)).stem
            label = row.get("emo", row.get("label"))
            entries.append((stem, None if label is None else str(label)))
    if not entries:
        raise ManifestError(f"{path} lists no files; use EmoBox's partition files as published.")
    return entries


def _by_stem(population: Sequence[Utterance]) -> tuple[dict[str, list[Utterance]], dict[str, list[Utterance]]]:
    """Local utterances by file stem, and by lower-case stem (EmoBox keys name files by stem)."""
    exact: dict[str, list[Utterance]] = defaultdict(list)
    lower: dict[str, list[Utterance]] = defaultdict(list)
    for utt in population:
        exact[Path(utt.path).stem].append(utt)
        lower[Path(utt.path).stem.lower()].append(utt)
    return exact, lower


def _match(path: Path, stem: str, exact: dict[str, list[Utterance]], lower: dict[str, list[Utterance]], corpus: Corpus) -> Utterance | None:
    """The local utterance of a listed stem (exact, else case-insensitive), None when absent; two local files of that stem are an error."""
    found = exact.get(stem) or lower.get(stem.lower()) or []
    if len(found) > 1:
        raise ManifestError(
            f"{path} lists {stem}, and {corpus!r} has {len(found)} files of that name ({found[0].path}, {found[1].path}); "
            "EmoBox names files by stem: remove the copy."
        )
    return found[0] if found else None


def carve_validation(train: Sequence[Utterance], fraction: float, unit: ValidationUnit, seed: str) -> tuple[list[Utterance], list[Utterance]]:
    """(kept, held out): whole training speakers (seeded) until ``fraction`` of ``train``, or a seeded ``fraction`` of
    every class's utterances (``utterance``); at least one speaker or utterance is always left to train on."""
    rng = random.Random(seed)
    if unit == "speaker":
        counts = Counter(utt.speaker for utt in train)
        speakers = sorted(counts)
        rng.shuffle(speakers)
        chosen: set[str] = set()
        size = 0
        for speaker in speakers[:-1]:
            if chosen and size >= fraction * len(train):
                break
            chosen.add(speaker)
            size += counts[speaker]
        if not chosen:
            raise ManifestError("The EmoBox training part has a single speaker: none is left to hold out for validation; set val_by: utterance.")
        return [u for u in train if u.speaker not in chosen], [u for u in train if u.speaker in chosen]
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, utt in enumerate(train):
        by_label[utt.label].append(index)
    held: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        held.update(indices[: min(len(indices) - 1, max(1, round(fraction * len(indices))))])
    return [u for i, u in enumerate(train) if i not in held], [u for i, u in enumerate(train) if i in held]


class EmoBoxFolds(SplitPlan):
    """One corpus split by EmoBox's published fold ``fold``: its test list tests, its train list trains and validates.

    Every file of the two lists must be in the local copy (matched by file stem; a missing one is refused, naming the
    list). Validation is carved from the train list only (``val_by``: whole speakers, or a stratified share of
    utterances), never from the test fold. Labels are the local parser's, in the DataModule's label space (``native``:
    the corpus's own classes, as EmoBox uses them; or ``categorical4``); listed files outside it, and local files in
    neither list, are left out and counted in the log. The fold's speaker overlap (EMO-DB: every test speaker also
    trains) is in the log and in ``split.json``.

    Args:
        corpus: the local copy (a registered parser such as ``EmoDB``, ``EMOVO``, ``URDU``, ``RAVDESS``).
        partitions: EmoBox's ``data/`` folder (holding ``<name>/fold_<n>/``), the repository that holds it, or the corpus's
            own folder ``data/<name>/``.
        fold: EmoBox's fold number, as in its file names (1 = ``fold_1``; EMO-DB has 5, EMOVO 6, URDU 1, RAVDESS 6).
        name: the corpus's name in EmoBox (``emodb``, ``emovo``, ``urdu``, ``ravdess``, ...); null: the parser's registry name.
        val_fraction: share of the train list held out for validation.
        val_by: ``speaker`` (whole training speakers, seeded) or ``utterance`` (a seeded share of every class).
    """

    def __init__(
        self,
        corpus: Corpus,
        partitions: str,
        fold: int = 1,
        name: str | None = None,
        val_fraction: float = 0.1,
        val_by: ValidationUnit = "speaker",
    ) -> None:
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
        if val_by not in ("speaker", "utterance"):
            raise ValueError(f"val_by must be speaker or utterance, got {val_by!r}.")
        if isinstance(fold, bool) or not isinstance(fold, int) or fold < 1:
            raise ValueError(f"fold is EmoBox's fold number as in its file names (1 = fold_1), got {fold!r}.")
        self.corpus = corpus
        self.partitions = str(partitions)
        self.fold = fold
        self.name = name or corpus.name
        self.val_fraction = val_fraction
        self.val_by = val_by
        self.matching: dict[str, Any] = {}  # what the last split matched, for split.json

    def corpora(self) -> list[Corpus]:
        return [self.corpus]

    def files(self) -> dict[str, Path]:
        """The train and test partition files of the fold."""
        return {part: partition_file(self.partitions, self.name, self.fold, part) for part in PARTS}

    def split(self, load: Loader, seed: int) -> Split:
        files = self.files()
        corpus = self.corpus
        population = [u for u in corpus.parse() if not corpus.languages or u.language in corpus.languages]  # matching ignores the label space
        exact, lower = _by_stem(population)
        listed: dict[str, list[Utterance]] = {}
        disagreements: list[str] = []
        for part, path in files.items():
            entries = read_partition(path, self.name)
            repeated = next((stem for stem, count in Counter(stem.lower() for stem, _ in entries).items() if count > 1), None)
            if repeated:
                raise ManifestError(f"{path} lists {repeated} twice; use EmoBox's partition files as published.")
            found = [_match(path, stem, exact, lower, corpus) for stem, _ in entries]
            missing = [stem for (stem, _), utt in zip(entries, found) if utt is None]
            if missing:
                raise ManifestError(
                    f"{path}: {len(missing)} of its {len(entries)} files are not in the local copy {corpus!r} (e.g. {missing[0]}); "
                    f"point the corpus's root at the whole {self.name} corpus as distributed, or `name` at its name in EmoBox."
                )
            for (stem, emo), utt in zip(entries, found):
                word = emobox_word(self.name, emo) if emo is not None else None
                if word is not None and utt is not None and word != utt.label:
                    disagreements.append(f"{stem}: EmoBox {emo!r}, local {utt.label!r}")
            listed[part] = [utt for utt in found if utt is not None]
        both = {u.path for u in listed["train"]} & {u.path for u in listed["test"]}
        if both:
            raise ManifestError(f"{files['test']} and {files['train']} both list {sorted(both)[0]}; use EmoBox's partition files as published.")

        loaded = {os.path.abspath(u.path): u for u in load([corpus])}
        parts = {part: [loaded[p] for p in (os.path.abspath(u.path) for u in utts) if p in loaded] for part, utts in listed.items()}
        if not parts["train"] or not parts["test"]:
            empty = files["train"] if not parts["train"] else files["test"]
            raise ManifestError(f"None of the files {empty} lists is left in the label space (or as sound audio); choose label_space: native.")
        train, val = carve_validation(parts["train"], self.val_fraction, self.val_by, f"{seed}:{self.name}:{self.fold}")
        split = as_source(Split(train=train, val=val, test=parts["test"]))
        left_out = sum(len(listed[part]) - len(parts[part]) for part in PARTS)
        listed_paths = {u.path for utts in listed.values() for u in utts}
        unlisted = sum(1 for u in population if u.path not in listed_paths)
        test_speakers = {u.speaker for u in split.test}
        overlap = test_speakers & {u.speaker for u in split.train + split.val}
        self.matching = {
            "name": self.name,
            "fold": self.fold,
            "files": {part: str(path) for part, path in files.items()},
            "listed": {part: len(listed[part]) for part in PARTS},
            "matched": {part: len(listed[part]) for part in PARTS},
            "left_out_by_label_space_or_bad_audio": left_out,
            "local_files_not_listed": unlisted,
            "label_disagreements": len(disagreements),
            "val_by": self.val_by,
            "test_speakers": len(test_speakers),
            "test_speakers_in_training": len(overlap),
        }
        split.notes.append(
            f"EmoBox {self.name} fold {self.fold}: all {len(listed['train'])} train and {len(listed['test'])} test files of "
            f"{files['train'].parent} matched in {corpus!r}; {left_out} left out by the label space or as bad audio; "
            f"{unlisted} local file(s) in neither list; validation: {len(split.val)} utterances of the train list (by {self.val_by})"
        )
        kind = "speaker-dependent" if overlap else "speaker-independent"
        split.notes.append(f"EmoBox {self.name} fold {self.fold} is {kind}: {len(overlap)} of its {len(test_speakers)} test speakers also train")
        if disagreements:
            split.notes.append(
                f"EmoBox's label differs from the local parser's for {len(disagreements)} file(s) (the local one is used), e.g. {disagreements[0]}"
            )
        return split

    def summary(self, split: Split, label_names: Sequence[str]) -> dict[str, Any]:
        return {"emobox": dict(self.matching)} if self.matching else {}
