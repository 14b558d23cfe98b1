"""Cross-language DataModules: sources trained on, target corpora or languages tested on (and few-shot data from them).

Thin aliases of :class:`~ser_lightning.data.datamodule.SERDataModule` with a
:class:`~ser_lightning.data.plans.CrossLingual` plan, named for the shipped and users' configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import DataLoader

from .corpora import Corpus, get_corpus
from .datamodule import SERDataModule
from .fewshot import AdaptationSpeakers
from .plans import CrossLingual, SpeakerHoldout


class CrossLingualDataModule(SERDataModule):
    """Train on ``sources``; test on their held-out speakers and on the speakers of ``targets``.

    Source and target entries may be two language filters of one multilingual corpus. A speaker
    that would be both trained on and tested as a target is an error.

    Few-shot adaptation: ``adaptation_speakers`` target speakers (per language of each target corpus)
    are set aside and never tested; labelled shots come only from them (``shots_per_class`` or
    ``shots_fraction``), exactly k of every class of the target group, or an error naming the classes
    that fall short. ``adaptation_speakers: cover`` chooses them per seed so that they hold
    ``cover_per_class`` utterances of every class (real corpora confound emotions with speakers: URDU's
    *angry* comes from 4 of its 29 speakers). The set-aside speakers depend on ``seed`` (and
    ``cover_per_class``) alone, so every k of one seed (k = 0 included) is tested on the same target
    speakers, and a smaller k's shots are a subset of a larger one's. The shots are written to ``shots.jsonl``
    in the run's log folder (a manifest: audit or reuse it). Joint training mixes the shots into the source data
    (``shots_oversample`` repeats them); a second stage fine-tunes a source model (``model.init_from``) on the
    shots with ``source_replay`` of the source data. ``unlabelled_target`` adds a second training loader with
    the set-aside speakers' audio and no labels, for domain-adversarial training (``model.domain_adversarial``).

    Args:
        sources: corpora to train on; their held-out speakers are tested with ``role: source``.
        targets: corpora (or languages) never trained on, tested with ``role: target``.
        adaptation_speakers: target speakers set aside for adaptation in each language of each target
            corpus: a count (2), a fraction of its speakers (0.3), or ``cover`` (speakers chosen per seed to hold
            ``cover_per_class`` utterances of every class, every class keeping test speakers); 0 sets none
            aside (pure zero-shot).
        cover_per_class: with ``adaptation_speakers: cover``, the utterances of every class the set-aside
            speakers must hold: the largest k of a sweep, so k = 0, 5 and 20 of one seed test on the same
            speakers; null takes ``shots_per_class``.
        shots_per_class: k labelled target utterances per class from the set-aside speakers (0: none).
        shots_fraction: instead of k, this fraction (0-1] of each class's set-aside utterances.
        shots_oversample: how many times each shot appears per training epoch (1: once).
        source_replay: fraction of the source training utterances kept in training (1: all, joint
            training; 0: shots only, e.g. a second stage from ``model.init_from``; 0.2: some replay
            against forgetting).
        unlabelled_target: also serve the set-aside speakers' audio without labels (``unlabelled`` batches).
        val_speakers: speakers held out for validation in each language of each corpus (of the sources): a count (1),
            or a fraction of that group's speakers (0.2).
        test_speakers: speakers held out for testing per language of each source corpus, as ``val_speakers``.
        **kwargs: the loading and batching options of :class:`SERDataModule`.
    """

    def __init__(
        self,
        sources: Sequence[Corpus],
        targets: Sequence[Corpus],
        adaptation_speakers: AdaptationSpeakers = 0,
        cover_per_class: int | None = None,
        shots_per_class: int = 0,
        shots_fraction: float | None = None,
        shots_oversample: int = 1,
        source_replay: float = 1.0,
        unlabelled_target: bool = False,
        val_speakers: int | float = 1,
        test_speakers: int | float = 1,
        **kwargs: Any,
    ) -> None:
        plan = CrossLingual(
            SpeakerHoldout(sources, val_speakers, test_speakers),
            targets,
            adaptation_speakers=adaptation_speakers,
            cover_per_class=cover_per_class,
            shots_per_class=shots_per_class,
            shots_fraction=shots_fraction,
            shots_oversample=shots_oversample,
            source_replay=source_replay,
            unlabelled_target=unlabelled_target,
        )
        super().__init__(plan=plan, corpora=None, **kwargs)
        self.corpora, self.targets = list(sources), list(targets)

    def train_dataloader(self) -> DataLoader | dict[str, DataLoader]:
        if "unlabelled" not in self.datasets:
            return super().train_dataloader()
        unlabelled = self._loader(self.datasets["unlabelled"], train=True)  # cycles ("max_size_cycle"): resumes at batches % its length
        return {"labelled": super().train_dataloader(), "unlabelled": unlabelled}


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
