"""Label spaces: the ordered class names a model predicts, and how corpus labels map onto them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .manifest import ManifestError, Utterance

CATEGORICAL4 = ("angry", "happy", "neutral", "sad")


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

    def index(self, label: str) -> int:
        """Class index of an already mapped label."""
        return self.names.index(label)

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
