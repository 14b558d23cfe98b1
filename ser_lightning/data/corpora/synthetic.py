"""The demo corpus: multilingual emotional speech that the generator (``ser_lightning.data.synthetic``) writes on first use."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info

from ...fileio import file_lock
from ..demo import GENERATOR_VERSION, LANGUAGES, SynthesisSpec, synthesize_corpus
from ..labels import CATEGORICAL4
from ..manifest import ManifestError, Utterance, read_manifest
from .base import Corpus


class SyntheticCorpus(Corpus):
    """The demo corpus (English/German/Italian/Urdu acted-emotion speech) as a corpus parser.

    This class reads the corpus; the generator that writes it is ``ser_lightning.data.synthetic``
    (see its docstring for voices, noise floor and emotion profiles), and ``SyntheticDataModule`` is
    a DataModule for in-corpus experiments on it. ``prepare()`` generates the tree under ``root``
    when its manifest is missing; the generation arguments and the generator version are recorded
    in ``synthesis.json``, and a mismatch is an error rather than a silent reuse of different data.
    ``languages`` filters what ``load()`` returns, while ``synth_languages`` is what gets generated,
    so a source and a target entry can share one tree.

    Args:
        root: Folder of the generated tree (made on first use).
        languages: Languages ``load()`` returns; None = all of ``synth_languages``.
        synth_languages: Languages generated into ``root`` (en, de, it, ur).
        speakers_per_language: Speakers per language, alternately female and male (at most 8: every
            speaker has its own espeak-ng voice).
        sentences_per_language: Sentences each speaker says in each emotion (at most 15).
        shift: Strength of the per-language expression shift (0 = the same emotion profiles everywhere).
        remap: Strength of Urdu's exchange of rate and volume between angry and happy (0 = none, 1 = full;
            around 0.5 the two coincide).
        seed: Generation seed (voices, prosody jitter, noise); not the training seed.
        noise_floor_db: Range [low, high] of each speaker's recording noise floor in dB below its
            speech level; null writes exact digital silence between words instead.
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
        remap: float = 1.0,
        seed: int = 0,
        noise_floor_db: tuple[float, float] | None = (45.0, 60.0),
    ) -> None:
        super().__init__(root, languages)
        self.spec = SynthesisSpec(
            languages=tuple(synth_languages),
            speakers_per_language=speakers_per_language,
            sentences_per_language=sentences_per_language,
            shift=shift,
            remap=remap,
            seed=seed,
            noise_floor_db=noise_floor_db,
        )

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    def prepare(self) -> None:
        # Runs launched together (a sweep, several DDP nodes on one filesystem) take turns: the first one writes
        # the tree, the others find it finished.
        with file_lock(self.root.parent / f".{self.root.name}.lock"):
            self._prepare()

    def _prepare(self) -> None:
        spec_path = self.root / "synthesis.json"
        if self.manifest_path.is_file() and spec_path.is_file():
            found = json.loads(spec_path.read_text())
            if found.get("version", 1) != GENERATOR_VERSION:
                raise ManifestError(
                    f"{self.root} holds a synthetic corpus written by generator version {found.get('version', 1)}, "
                    f"but this ser_lightning writes version {GENERATOR_VERSION} (other voices and recording); "
                    f"delete {self.root} to have it generated again, or use another `root`."
                )
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
            raise ManifestError(
                f"No synthetic corpus at {self.root}; run the DataModule's prepare_data or `python -m ser_lightning.data synth --out {self.root}`."
            )
        return read_manifest(self.manifest_path)
