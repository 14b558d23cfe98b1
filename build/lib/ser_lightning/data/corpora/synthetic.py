"""The embedded demo corpus: multilingual emotional speech synthesised with espeak-ng on first use."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from lightning.pytorch.utilities import rank_zero_info

from ..labels import CATEGORICAL4
from ..manifest import ManifestError, Utterance, read_manifest
from ..synthetic import LANGUAGES, SynthesisSpec, synthesize_corpus
from .base import Corpus


class SyntheticCorpus(Corpus):
    """English/German/Italian/Urdu acted-emotion speech made by ``ser_lightning.data.synthetic``.

    ``prepare()`` generates the tree under ``root`` when its manifest is missing; the generation
    arguments are recorded in ``synthesis.json`` and a mismatch is an error rather than a silent
    reuse of different data. ``languages`` filters what ``load()`` returns, while
    ``synth_languages`` is what gets generated, so a source and a target entry can share one tree.

    Args:
        root: folder of the generated corpus (created on first use).
        languages: languages this entry uses (null: all generated ones).
        synth_languages: languages generated into the tree (en, de, it, ur).
        speakers_per_language: speakers generated per language.
        sentences_per_language: sentences each speaker says in every emotion.
        shift: strength of the per-language expression shift (0: every language expresses emotions alike).
        remap: strength of Urdu's exchange of cues between emotion pairs (0: none).
        seed: seed of the generated audio.
    """

    name = "synthetic"

    def __init__(
        self,
        root: str = "data/synthetic",
        languages: Sequence[str] | None = None,
        synth_languages: Sequence[str] = LANGUAGES,
        speakers_per_language: int = 6,
        sentences_per_language: int = 12,
        shift: float = 1.0,
        remap: float = 0.6,
        seed: int = 0,
    ) -> None:
        super().__init__(root, languages)
        self.spec = SynthesisSpec(
            languages=tuple(synth_languages),
            speakers_per_language=speakers_per_language,
            sentences_per_language=sentences_per_language,
            shift=shift,
            remap=remap,
            seed=seed,
        )

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    def prepare(self) -> None:
        spec_path = self.root / "synthesis.json"
        if self.manifest_path.is_file() and spec_path.is_file():
            found = json.loads(spec_path.read_text())
            if found != self.spec.to_dict():
                raise ManifestError(
                    f"{self.root} holds a synthetic corpus made with {found}, not {self.spec.to_dict()}; "
                    "use another `root` or delete that folder to regenerate."
                )
            return
        rank_zero_info(f"Synthesising the demo corpus under {self.root} (about 10 s) ...")
        start = time.perf_counter()
        utterances = synthesize_corpus(self.root, self.spec)
        rank_zero_info(f"Wrote {len(utterances)} utterances to {self.manifest_path} in {time.perf_counter() - start:.1f} s.")

    def native_labels(self) -> tuple[str, ...]:
        return CATEGORICAL4

    def parse(self) -> list[Utterance]:
        if not self.manifest_path.is_file():
            raise ManifestError(f"No synthetic corpus at {self.root}; run the DataModule's prepare_data or `python -m ser_lightning.data synth --out {self.root}`.")
        return read_manifest(self.manifest_path)
