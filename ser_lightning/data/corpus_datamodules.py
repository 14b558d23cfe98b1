"""One thin DataModule per corpus: each real corpus with its standard protocol (a ``CorpusFolds`` plan), and the demo corpus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .corpora import CREMAD, EMOVO, ESD, IEMOCAP, RAVDESS, SAVEE, TESS, URDU, Corpus, EmoDB, ShEMO, SyntheticCorpus
from .datamodule import SERDataModule
from .demo import LANGUAGES
from .plans import CorpusFolds
from .protocols import PROTOCOLS, Protocol


class CorpusDataModule(SERDataModule):
    """In-corpus experiments on one real corpus, split by its standard speaker-independent protocol.

    Fold ``fold`` tests on its speakers; validation holds out whole training speakers (seeded by
    ``seed``) until ``val_fraction`` of the training utterances; the rest trains. Subclasses name the
    corpus; the label space and loading options are :class:`SERDataModule`'s.

    Args:
        root: the corpus folder as downloaded (see the corpus class for its layout).
        fold: which fold of the protocol to test on (0-based; see :attr:`protocol` for the count).
        val_fraction: share of the training part's utterances held out for validation, as whole speakers
            (at least one speaker; TESS: whole words of its single training speaker).
        languages: keep only these languages of a multilingual corpus (ESD: ``en``, ``zh``); None keeps all.
        strict: refuse the corpus at the first file that does not follow its naming scheme (default: skip such
            files, listed in ``skipped_files.csv`` beside the run, and read the rest).
    """

    corpus_class: ClassVar[type[Corpus]]

    def __init__(
        self, root: str, fold: int = 0, val_fraction: float = 0.1, languages: Sequence[str] | None = None, strict: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(plan=CorpusFolds(self.corpus_class(root, languages, strict=strict), fold, val_fraction), corpora=None, **kwargs)
        self.fold = fold
        self.val_fraction = val_fraction

    @property
    def protocol(self) -> Protocol:
        """The corpus's standard protocol (``protocol.folds`` folds)."""
        return PROTOCOLS[self.corpus_class.name]


class IEMOCAPDataModule(CorpusDataModule):
    """IEMOCAP (root: the folder holding Session1/ ... Session5/, e.g. /data/IEMOCAP_full_release), leave-one-session-out: 5 folds.

    Fold i tests on both speakers of session i+1.
    """

    corpus_class = IEMOCAP


class EmoDBDataModule(CorpusDataModule):
    """EMO-DB (root: the folder holding wav/, e.g. /data/emodb), leave-one-speaker-out: 10 folds.

    Fold i tests on the i-th speaker of 03, 08, 09, 10, 11, 12, 13, 14, 15, 16.
    """

    corpus_class = EmoDB


class EMOVODataModule(CorpusDataModule):
    """EMOVO (root: the folder holding f1/ ... m3/, e.g. /data/EMOVO), leave-one-speaker-out: 6 folds.

    Fold i tests on the i-th actor of f1, f2, f3, m1, m2, m3.
    """

    corpus_class = EMOVO


class URDUDataModule(CorpusDataModule):
    """URDU (root: the folder holding Angry/ Happy/ Neutral/ Sad/, e.g. /data/URDU-Dataset), leave-speakers-out: 5 folds.

    Speakers hold 2 to 80 files each, so they are dealt into folds of about equal FILE counts (80 each).
    """

    corpus_class = URDU


class RAVDESSDataModule(CorpusDataModule):
    """RAVDESS speech (root: the folder holding Actor_01/ ..., e.g. /data/Audio_Speech_Actors_01-24), leave-speakers-out: 6 folds.

    Each fold tests on 4 actors, 2 female and 2 male.
    """

    corpus_class = RAVDESS


class CREMADDataModule(CorpusDataModule):
    """CREMA-D (root: the folder holding AudioWAV/, e.g. /data/CREMA-D), leave-speakers-out: 5 folds.

    Actors are dealt into folds of about equal file counts, genders spread.
    """

    corpus_class = CREMAD


class SAVEEDataModule(CorpusDataModule):
    """SAVEE (root: the folder holding AudioData/ or ALL/, e.g. /data/SAVEE), leave-one-speaker-out: 4 folds.

    Fold i tests on the i-th speaker of DC, JE, JK, KL.
    """

    corpus_class = SAVEE


class TESSDataModule(CorpusDataModule):
    """TESS (root: the folder holding OAF_angry/ ..., e.g. "/data/TESS Toronto emotional speech set data"), leave-one-speaker-out: 2 folds.

    Fold 0 tests on OAF, fold 1 on YAF; validation holds out whole words of the training speaker (the only one left).
    """

    corpus_class = TESS


class ShEMODataModule(CorpusDataModule):
    """ShEMO (root: the folder holding female/ and male/, e.g. /data/ShEMO), leave-speakers-out: 5 folds.

    Speakers are dealt into folds of about equal file counts, genders spread.
    """

    corpus_class = ShEMO


class ESDDataModule(CorpusDataModule):
    """ESD (root: the folder holding 0001/ ... 0020/, e.g. "/data/Emotion Speech Dataset"), leave-speakers-out: 5 folds.

    Each fold tests on 2 English and 2 Mandarin speakers; ``languages: [en]`` keeps one language.
    """

    corpus_class = ESD


CORPUS_DATAMODULES: dict[str, type[CorpusDataModule]] = {
    cls.corpus_class.name: cls
    for cls in (
        IEMOCAPDataModule,
        EmoDBDataModule,
        EMOVODataModule,
        URDUDataModule,
        RAVDESSDataModule,
        CREMADDataModule,
        SAVEEDataModule,
        TESSDataModule,
        ShEMODataModule,
        ESDDataModule,
    )
}


class SyntheticDataModule(SERDataModule):
    """A DataModule for in-corpus experiments on the demo corpus (:class:`SyntheticCorpus`, written under ``root`` on first use).

    Args:
        root: folder of the generated corpus.
        languages: languages to generate and use (en, de, it, ur).
        speakers_per_language: speakers generated per language (at most 8: each has its own voice).
        sentences_per_language: sentences each speaker says in every emotion.
        shift: strength of the per-language expression shift (0: every language expresses emotions alike).
        remap: strength of Urdu's exchange of rate and volume between angry and happy (0: none, 1: full).
        synth_seed: seed of the generated corpus (not of the split: that is ``seed``).
        noise_floor_db: range [low, high] of each speaker's recording noise floor in dB below its speech;
            null writes exact digital silence between words instead.
        **kwargs: the options of :class:`SERDataModule`.
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        languages: Sequence[str] = LANGUAGES,
        speakers_per_language: int = 6,
        sentences_per_language: int = 12,
        shift: float = 1.0,
        remap: float = 1.0,
        synth_seed: int = 0,
        noise_floor_db: tuple[float, float] | None = (45.0, 60.0),
        **kwargs: Any,
    ) -> None:
        corpus = SyntheticCorpus(
            root,
            synth_languages=languages,
            speakers_per_language=speakers_per_language,
            sentences_per_language=sentences_per_language,
            shift=shift,
            remap=remap,
            seed=synth_seed,
            noise_floor_db=noise_floor_db,
        )
        super().__init__(corpora=[corpus], **kwargs)
