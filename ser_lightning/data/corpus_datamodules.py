"""One thin DataModule per real corpus (its standard speaker-independent protocol), and corpora named by registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override

from .corpora import CREMAD, EMOVO, ESD, IEMOCAP, RAVDESS, SAVEE, TESS, URDU, Corpus, EmoDB, ShEMO, get_corpus
from .datamodule import CrossLingualDataModule, SERDataModule
from .protocols import PROTOCOLS, Protocol, protocol_split
from .splits import Split


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
        protocol = PROTOCOLS[self.corpus_class.name]
        if not 0 <= fold < protocol.folds:
            raise ValueError(f"fold must be in 0..{protocol.folds - 1} for {protocol.description}, got {fold}.")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
        super().__init__(corpora=[self.corpus_class(root, languages, strict=strict)], val_speakers=0, test_speakers=0, **kwargs)
        self.fold = fold
        self.val_fraction = val_fraction

    @property
    def protocol(self) -> Protocol:
        """The corpus's standard protocol (``protocol.folds`` folds)."""
        return PROTOCOLS[self.corpus_class.name]

    @override
    def make_split(self) -> tuple[Split, list[str]]:
        corpus = self.corpora[0]
        population = [u for u in corpus.parse() if not corpus.languages or u.language in corpus.languages]  # folds ignore the label space
        split = protocol_split(self._load(self.corpora), self.protocol, self.fold, self.val_fraction, self.seed, population=population)
        rank_zero_info(f"{self.protocol.description}: fold {self.fold} tests on speakers {sorted({u.speaker for u in split.test})}")
        return split, ["source"] * len(split.test)


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


class CrossCorpusDataModule(CrossLingualDataModule):
    """Cross-corpus experiments on registered corpora named by name, with every corpus's root in one mapping.

    ``roots`` lives in one config file and the sources/targets in another, so the study's four
    target configurations share the paths: ``--config study/corpora.yaml --config study/target_urdu.yaml``.
    Everything else (splits of the sources, label space, loading) is :class:`CrossLingualDataModule`'s.

    Args:
        roots: registry name -> corpus folder as downloaded, e.g. ``{emodb: /data/emodb, urdu: /data/URDU-Dataset}``.
        sources: registry names of the corpora trained on (their held-out speakers are tested as ``source``).
        targets: registry names of the corpora only tested on (role ``target``).
        strict: refuse a corpus at its first file that does not follow its naming scheme (default: skip such
            files, listed in ``skipped_files.csv`` beside the run, and read the rest).
    """

    def __init__(self, roots: dict[str, str], sources: Sequence[str], targets: Sequence[str], strict: bool = False, **kwargs: Any) -> None:
        missing = sorted({name for name in [*sources, *targets] if name not in roots})
        if missing:
            raise ValueError(f"No root for corpus {missing}: add `{missing[0]}: /path/to/it` under `roots` (given: {sorted(roots)}).")
        overlap = sorted(set(sources) & set(targets))
        if overlap:
            raise ValueError(f"Corpora {overlap} are both sources and targets; a target must be a corpus never trained on.")
        super().__init__(
            sources=[get_corpus(name)(roots[name], strict=strict) for name in sources],
            targets=[get_corpus(name)(roots[name], strict=strict) for name in targets],
            **kwargs,
        )
