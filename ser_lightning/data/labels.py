"""Label spaces, in one place: each corpus's native codes, the emotion words, and the spaces models predict.

A parser turns a corpus's own code (EMO-DB ``W``, IEMOCAP ``exc``) into a lower-case English emotion
word with :func:`native_word` and :data:`NATIVE_CODES`; the word is the record's label and the code
stays in ``extra["code"]``. A :class:`LabelSpace` then maps words onto the classes a model predicts:
:func:`build_label_space` makes the named spaces (``categorical4``, ``native``, ``binary_valence``,
``arousal``) or a custom one from class names and a mapping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from .manifest import ManifestError, Utterance

CATEGORICAL4 = ("angry", "happy", "neutral", "sad")

# Native code -> emotion word, per corpus (registry name). Codes are matched case-insensitively.
NATIVE_CODES: dict[str, dict[str, str]] = {
    "iemocap": {
        "neu": "neutral",
        "hap": "happy",
        "exc": "excited",
        "ang": "angry",
        "sad": "sad",
        "fru": "frustrated",
        "fea": "fear",
        "sur": "surprise",
        "dis": "disgust",
        "oth": "other",
        "xxx": "no_agreement",
    },
    "emodb": {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"},
    "emovo": {"neu": "neutral", "gio": "happy", "rab": "angry", "tri": "sad", "pau": "fear", "dis": "disgust", "sor": "surprise"},
    "urdu": {"Angry": "angry", "Happy": "happy", "Neutral": "neutral", "Sad": "sad"},
    "ravdess": {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fear", "07": "disgust", "08": "surprise"},
    "cremad": {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"},
    "savee": {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprise"},
    "tess": {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral", "ps": "pleasant_surprise", "sad": "sad"},
    "shemo": {"A": "angry", "H": "happy", "N": "neutral", "S": "sad", "W": "surprise", "F": "fear"},
    "esd": {"Neutral": "neutral", "Angry": "angry", "Happy": "happy", "Sad": "sad", "Surprise": "surprise", "Surprised": "surprise"},
}

# Labels that are not emotions (IEMOCAP's "other" and "no agreement"): kept in records, never a class of a named space.
NON_EMOTIONS = frozenset({"other", "no_agreement"})

# Valence of the emotion words (neutral's side is an option of the space); words absent here (surprise) are dropped.
VALENCE: dict[str, str] = {
    "angry": "negative",
    "sad": "negative",
    "fear": "negative",
    "disgust": "negative",
    "boredom": "negative",
    "frustrated": "negative",
    "happy": "positive",
    "excited": "positive",
    "pleasant_surprise": "positive",
    "calm": "positive",
}

# Arousal of the emotion words; words absent here (frustrated) are dropped.
AROUSAL: dict[str, str] = {
    "angry": "high",
    "happy": "high",
    "fear": "high",
    "surprise": "high",
    "disgust": "high",
    "excited": "high",
    "pleasant_surprise": "high",
    "sad": "low",
    "neutral": "low",
    "boredom": "low",
    "calm": "low",
}

LabelSpaceName = Literal["categorical4", "native", "binary_valence", "arousal", "custom"]
NeutralValence = Literal["drop", "positive", "negative"]
LABEL_SPACES: tuple[str, ...] = get_args(LabelSpaceName)
NEUTRAL_VALENCE: tuple[str, ...] = get_args(NeutralValence)


def native_word(corpus: str, code: str, source: object) -> str:
    """The emotion word for a corpus's native ``code`` (case-insensitive); raises naming ``source`` when unknown."""
    table = NATIVE_CODES[corpus]
    word = table.get(code) or {key.lower(): value for key, value in table.items()}.get(code.lower())
    if word is None:
        raise ManifestError(
            f"{source}: unknown {corpus} emotion code {code!r}; known codes are {sorted(table)}. Is `root` the {corpus} corpus as distributed?"
        )
    return word


def native_labels(corpus: str) -> tuple[str, ...]:
    """A corpus's own emotion words (sorted), without the non-emotion labels."""
    return tuple(sorted(set(NATIVE_CODES[corpus].values()) - NON_EMOTIONS))


@dataclass(frozen=True)
class LabelSpace:
    """Ordered class names plus an optional mapping of corpus labels onto them.

    A label that is neither a class name nor a key of ``mapping`` is dropped (e.g. IEMOCAP's
    frustration in a 4-class study); :meth:`apply` reports how many were dropped so nothing
    disappears silently.
    """

    names: tuple[str, ...] = CATEGORICAL4
    mapping: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names) or len(self.names) < 2:
            raise ValueError(f"A label space needs at least two distinct class names, got {list(self.names)}.")
        unknown = sorted({target for target in self.mapping.values() if target not in self.names})
        if unknown:
            raise ValueError(f"Label mapping targets {unknown} are not classes of {list(self.names)}.")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def map_label(self, label: str) -> str | None:
        """The class name for a corpus label, or None when the label is outside this space."""
        label = self.mapping.get(label, label)
        return label if label in self.names else None

    def apply(self, utterances: Iterable[Utterance], source: str = "corpus") -> tuple[list[Utterance], Counter]:
        """Map labels onto this space; return the kept utterances and a count of dropped labels."""
        kept, dropped = [], Counter()
        for utt in utterances:
            mapped = self.map_label(utt.label)
            if mapped is None:
                dropped[utt.label] += 1
            else:
                kept.append(utt if mapped == utt.label else utt.with_(label=mapped))
        if not kept:
            raise ManifestError(
                f"{source}: no utterance has a label in {list(self.names)} (labels found: {sorted(dropped)}); "
                "set the label space's names or mapping to match the corpus."
            )
        return kept, dropped


def build_label_space(
    name: str = "categorical4",
    label_names: Sequence[str] | None = None,
    label_mapping: Mapping[str, str] | None = None,
    neutral_valence: str = "drop",
    native: Iterable[str] = (),
) -> LabelSpace:
    """A named label space, or a custom one when ``label_names`` is given.

    Args:
        name: ``categorical4`` (angry, happy, neutral, sad; excited counts as happy), ``native`` (the
            words in ``native``, i.e. the corpora's own sets), ``binary_valence`` (negative, positive),
            ``arousal`` (high, low) or ``custom`` (``label_names`` and ``label_mapping`` only).
        label_names: class names of a custom space; given with the default ``categorical4`` they make
            the space custom, with any other named space they are an error.
        label_mapping: word -> class entries added to (and overriding) the named space's own mapping,
            e.g. ``{calm: neutral}``.
        neutral_valence: neutral's side in ``binary_valence``: ``drop``, ``positive`` or ``negative``.
        native: the emotion words of the ``native`` space.
    """
    if name not in LABEL_SPACES:
        raise ValueError(f"Unknown label space {name!r}; choose one of {list(LABEL_SPACES)}.")
    if neutral_valence not in NEUTRAL_VALENCE:
        raise ValueError(f"neutral_valence must be one of {list(NEUTRAL_VALENCE)}, got {neutral_valence!r}.")
    extra = dict(label_mapping or {})
    if label_names is not None:
        if name not in ("categorical4", "custom"):
            raise ValueError(f"label_names {list(label_names)} define a custom space; they cannot be combined with label_space {name!r}.")
        return LabelSpace(tuple(label_names), extra)
    if name == "custom":
        raise ValueError("label_space 'custom' needs label_names (and optionally label_mapping).")
    if name == "categorical4":
        return LabelSpace(CATEGORICAL4, {"excited": "happy", **extra})
    if name == "native":
        names = tuple(sorted(set(native) - NON_EMOTIONS))
        if len(names) < 2:
            raise ValueError(f"The native label space of these corpora has classes {list(names)}: give label_names for a custom space instead.")
        return LabelSpace(names, extra)
    if name == "binary_valence":
        mapping = dict(VALENCE)
        if neutral_valence != "drop":
            mapping["neutral"] = neutral_valence
        return LabelSpace(("negative", "positive"), {**mapping, **extra})
    return LabelSpace(("high", "low"), {**AROUSAL, **extra})
