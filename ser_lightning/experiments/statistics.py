"""Intervals and paired tests over test speakers: what a study may conclude from a handful of speakers and seeds.

The utterances of one speaker are not independent (a voice, a recording, a way of acting), and neither are one
speaker's test rows in several seeds (a corpus tested whole, or a target whose speakers recur across seeds' splits, is
the same people every seed). So the unit of resampling is a **test speaker**, carrying its rows of every seed: a
**cluster bootstrap** over speakers, seeds pooled within each. A cell's value is the mean over seeds of the metric
computed on that seed's test speakers (the number in the tables); its 95% interval resamples the speakers
(``scipy.stats.bootstrap``, BCa where it can, percentile otherwise). Five seeds testing the same speakers therefore
count as those speakers, not five times as many: repeating a run adds no evidence about other speakers. The
interval is over speakers, for the seeds run: a speaker tested in several seeds carries their mean, so the spread
between seeds on the same speakers is not in it (the tables give it beside, as ± std over runs).

Two models compared on the same seeds and test speakers are **paired**: the difference of their cell values, with a
bootstrap interval that resamples speakers once for both, and a one-sided p-value from a paired permutation test
(``scipy.stats.permutation_test``, ``permutation_type="samples"``: within each speaker the two models' predictions, in
every seed at once, are exchanged). A contrast may be a difference of differences (the gain from k = 0 to k = 20 of
one model against another's): every term is computed on the same resampled speakers. :func:`holm` corrects the
p-values of one sweep's claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..evaluation.metrics import confusion

RESAMPLES = 9999
CONFIDENCE = 0.95


@dataclass
class Units:
    """Confusion counts of one condition per test speaker and seed: ``keys`` (speakers), ``seeds`` (seed names) and
    ``matrices`` [U, S, C, C] (zero where a speaker was not tested in a seed)."""

    keys: list[str]
    seeds: list[str]
    matrices: np.ndarray

    @classmethod
    def of(cls, runs: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[str]]], classes: int) -> Units:
        """Units of runs given as (seed, labels, predictions, speaker of each row)."""
        seeds = sorted({str(seed) for seed, *_ in runs})
        speakers = sorted({str(speaker) for *_, who in runs for speaker in who})
        row_of = {speaker: i for i, speaker in enumerate(speakers)}
        matrices = np.zeros((len(speakers), len(seeds), classes, classes))
        for seed, labels, predictions, who in runs:
            who = np.asarray(who, dtype=object).astype(str)
            for speaker in np.unique(who):
                mask = who == speaker
                matrices[row_of[speaker], seeds.index(str(seed))] += confusion(labels[mask], predictions[mask], classes)
        return cls(speakers, seeds, matrices)

    def aligned(self, keys: Sequence[str], seeds: Sequence[str]) -> np.ndarray:
        """The matrices of speakers ``keys`` and ``seeds`` in that order [U, S, C, C] (zero where this condition has none)."""
        speaker_index, seed_index = {key: i for i, key in enumerate(self.keys)}, {seed: j for j, seed in enumerate(self.seeds)}
        out = np.zeros((len(keys), len(seeds), *self.matrices.shape[2:]))
        for i, key in enumerate(keys):
            for j, seed in enumerate(seeds):
                if key in speaker_index and seed in seed_index:
                    out[i, j] = self.matrices[speaker_index[key], seed_index[seed]]
        return out


def metric(matrices: np.ndarray, name: str = "ua") -> np.ndarray:
    """``ua``, ``wa`` or ``f1`` of confusion matrices [..., C, C] (NaN where a matrix is empty)."""
    matrices = np.asarray(matrices, dtype=np.float64)
    tp = np.diagonal(matrices, axis1=-2, axis2=-1)
    support, predicted = matrices.sum(-1), matrices.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "ua":
            recall = np.where(support > 0, tp / support, np.nan)
            return np.nanmean(np.where(support > 0, recall, np.nan), axis=-1) if recall.size else recall
        if name == "wa":
            total = support.sum(-1)
            return np.where(total > 0, tp.sum(-1) / total, np.nan)
        if name == "f1":
            denominator = support + predicted
            f1 = np.where(denominator > 0, 2 * tp / denominator, np.nan)
            return np.nanmean(f1, axis=-1)
    raise ValueError(f"Unknown metric {name!r}; statistics are computed for ua, wa or f1.")


def _seed_means(matrices: np.ndarray, name: str) -> np.ndarray:
    """Mean over seeds of the metric of each seed's summed speakers: matrices [..., U, S, C, C] -> [...] (a resample may
    leave a seed without rows: its metric is NaN, left out of the mean)."""
    with _quiet():
        return np.nanmean(metric(matrices.sum(-4), name), axis=-1)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings inside a block (a resample may leave a seed without rows)."""

    def __enter__(self) -> None:
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *args: object) -> None:
        self._context.__exit__(*args)


@dataclass
class Estimate:
    """A value with its 95% interval; ``method`` says how the interval was found."""

    value: float
    low: float
    high: float
    method: str


def _bootstrap(statistic, units: int, seed: int) -> tuple[float, float, str]:
    """A bootstrap interval of ``statistic(index [..., U])`` over ``units`` resampled clusters (BCa, else percentile)."""
    data = (np.arange(units),)
    for method in ("BCa", "percentile"):
        with _quiet():
            result = stats.bootstrap(
                data,
                lambda index, axis=-1: statistic(index),
                vectorized=True,
                n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                random_state=np.random.default_rng(seed),
                batch=500,
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high, method
    return float("nan"), float("nan"), "none"


def interval(units: Units, name: str = "ua", seed: int = 0) -> Estimate:
    """The cell value (mean over seeds) of ``units`` and its 95% cluster-bootstrap interval over test speakers.

    With a single speaker no interval can be found: low and high are NaN.
    """
    value = float(_seed_means(units.matrices, name))
    if len(units.keys) < 2:
        return Estimate(value, float("nan"), float("nan"), "none")
    low, high, method = _bootstrap(lambda index: _seed_means(units.matrices[index], name), len(units.keys), seed)
    return Estimate(value, low, high, f"cluster bootstrap ({method}) over {len(units.keys)} test speakers, {len(units.seeds)} seed(s)")


Term = tuple[float, Units]  # a coefficient and a condition: a side of a contrast is a sum of such terms


@dataclass
class Comparison:
    """``better`` minus ``worse`` on paired speakers: each side's value, the difference, its interval and a one-sided p;
    ``speakers`` counts the test speakers, ``seeds`` the seeds they were compared in."""

    better: float
    worse: float
    delta: float
    low: float
    high: float
    p: float
    speakers: int
    seeds: int


def paired(better: Sequence[Term], worse: Sequence[Term], name: str = "ua", seed: int = 0) -> Comparison:
    """Compare two sides on the test speakers and seeds every term has (see the module docstring): a speaker's rows of
    a seed count only where every term tested that speaker in that seed.

    ``better`` and ``worse`` have the same coefficients in the same order (e.g. ``[(1, at k = 20), (-1, at k = 0)]``
    for a gain), so a speaker's two sides can be exchanged by the permutation test.
    """
    if [c for c, _ in better] != [c for c, _ in worse]:
        raise ValueError("The two sides of a comparison need the same terms (coefficients) in the same order.")
    terms = [units for _, units in (*better, *worse)]
    keys = sorted(set.intersection(*(set(units.keys) for units in terms)))
    seeds = sorted(set.intersection(*(set(units.seeds) for units in terms)))
    aligned = [units.aligned(keys, seeds) for units in terms]  # each [U, S, C, C]
    common = np.logical_and.reduce([matrices.sum((-1, -2)) > 0 for matrices in aligned]) if keys and seeds else np.zeros((0, 0), bool)
    keep = common.any(axis=1)  # speakers every term tested in at least one common seed
    if keep.sum() < 2:
        raise ValueError(f"Only {int(keep.sum())} test speaker(s) are common to every condition; nothing can be compared.")
    aligned = [matrices[keep] * common[keep][..., None, None] for matrices in aligned]
    coefficients = np.array([c for c, _ in better])
    # table [2U, J, S, C, C]: the better side's terms for each speaker, then the worse side's
    table = np.concatenate([np.stack(aligned[: len(better)], axis=1), np.stack(aligned[len(better) :], axis=1)], axis=0)
    count = int(keep.sum())

    def side(index: np.ndarray) -> np.ndarray:  # index [..., U] into table rows -> value [...]
        rows = table[index]  # [..., U, J, S, C, C]
        return sum(coefficient * _seed_means(rows[..., j, :, :, :], name) for j, coefficient in enumerate(coefficients))

    own = np.arange(count)
    value_better, value_worse = float(side(own)), float(side(own + count))
    low, high, _ = _bootstrap(lambda index: side(index) - side(index + count), count, seed)
    with _quiet():
        test = stats.permutation_test(
            (own, own + count),
            lambda x, y, axis=-1: side(x) - side(y),
            permutation_type="samples",
            vectorized=True,
            n_resamples=RESAMPLES,
            alternative="greater",
            random_state=np.random.default_rng(seed),
            batch=500,
        )
    compared_seeds = int(common[keep].any(axis=0).sum())
    return Comparison(value_better, value_worse, value_better - value_worse, low, high, float(test.pvalue), count, compared_seeds)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error rate; scipy has none)."""
    order = np.argsort(pvalues)
    adjusted = np.empty(len(pvalues))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted.tolist()
