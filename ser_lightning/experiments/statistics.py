"""Intervals and paired tests over test speakers: what a study may conclude from a handful of speakers and seeds.

The utterances of one speaker are not independent (a voice, a recording, a way of acting), so the unit of resampling
is a test speaker of one seed's run, not an utterance: a **cluster bootstrap** over (seed, speaker) units, seeds
pooled. A cell's value is the mean over seeds of the metric computed on that seed's test speakers (the number in the
tables); its 95% interval resamples the units (``scipy.stats.bootstrap``, BCa where it can, percentile otherwise).

Two models compared on the same seeds and test speakers are **paired**: the difference of their cell values, with a
bootstrap interval that resamples units once for both, and a one-sided p-value from a paired permutation test
(``scipy.stats.permutation_test``, ``permutation_type="samples"``: within each unit the two models' predictions are
exchanged). A contrast may be a difference of differences (the gain from k = 0 to k = 20 of one model against
another's): every term is computed on the same resampled units. :func:`holm` corrects the p-values of one sweep's claims.
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
    """Confusion counts of one condition per unit: ``keys`` (seed, speaker) and ``matrices`` [U, C, C]."""

    keys: list[tuple[str, str]]
    matrices: np.ndarray

    @classmethod
    def of(cls, runs: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[str]]], classes: int) -> Units:
        """Units of runs given as (seed, labels, predictions, speaker of each row)."""
        keys, matrices = [], []
        for seed, labels, predictions, speakers in runs:
            speakers = np.asarray(speakers, dtype=object)
            for speaker in sorted(set(speakers.tolist())):
                mask = speakers == speaker
                keys.append((str(seed), str(speaker)))
                matrices.append(confusion(labels[mask], predictions[mask], classes))
        return cls(keys, np.asarray(matrices, dtype=np.float64).reshape(len(keys), classes, classes))

    def aligned(self, keys: Sequence[tuple[str, str]]) -> np.ndarray:
        """The matrices of ``keys`` in that order (a unit this condition lacks counts zero rows)."""
        index = {key: i for i, key in enumerate(self.keys)}
        out = np.zeros((len(keys), *self.matrices.shape[1:]))
        for i, key in enumerate(keys):
            if key in index:
                out[i] = self.matrices[index[key]]
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


def _seed_means(matrices: np.ndarray, seeds: np.ndarray, name: str) -> np.ndarray:
    """Mean over seeds of the metric of each seed's summed units: matrices [..., U, C, C], ``seeds`` [..., U] or [U]
    (integer codes; a resample may leave a seed without units: its sum is empty, its metric NaN, left out of the mean).
    Each seed's units are summed by one matrix product with the seeds' one-hot codes (4x faster than a masked sum per
    seed over a batch of resamples, the bootstrap's inner loop)."""
    seeds = np.asarray(seeds)
    onehot = (seeds[..., None] == np.arange(int(seeds.max()) + 1)).astype(matrices.dtype)  # [..., U, S]
    per_seed = np.swapaxes(onehot, -1, -2) @ matrices.reshape(*matrices.shape[:-2], -1)  # [..., S, C * C]
    with _quiet():
        return np.nanmean(metric(per_seed.reshape(*per_seed.shape[:-1], *matrices.shape[-2:]), name), axis=-1)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings inside a block (a resample may leave a seed without units)."""

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
    """A bootstrap interval of ``statistic(index [..., U])`` over ``units`` resampled units (BCa, else percentile)."""
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
    """The cell value (mean over seeds) of ``units`` and its 95% cluster-bootstrap interval over (seed, speaker) units.

    With a single unit no interval can be found: low and high are NaN.
    """
    seeds = np.unique([key[0] for key in units.keys], return_inverse=True)[1]
    value = float(_seed_means(units.matrices, seeds, name))
    if len(units.keys) < 2:
        return Estimate(value, float("nan"), float("nan"), "none")
    low, high, method = _bootstrap(lambda index: _seed_means(units.matrices[index], seeds[index], name), len(units.keys), seed)
    return Estimate(value, low, high, f"cluster bootstrap ({method}) over {len(units.keys)} seed x speaker units")


Term = tuple[float, Units]  # a coefficient and a condition: a side of a contrast is a sum of such terms


@dataclass
class Comparison:
    """``better`` minus ``worse`` on paired units: each side's value, the difference, its interval and a one-sided p."""

    better: float
    worse: float
    delta: float
    low: float
    high: float
    p: float
    units: int
    seeds: int


def paired(better: Sequence[Term], worse: Sequence[Term], name: str = "ua", seed: int = 0) -> Comparison:
    """Compare two sides on the (seed, speaker) units every term has (see the module docstring).

    ``better`` and ``worse`` have the same coefficients in the same order (e.g. ``[(1, at k = 20), (-1, at k = 0)]``
    for a gain), so a unit's two sides can be exchanged by the permutation test.
    """
    if [c for c, _ in better] != [c for c, _ in worse]:
        raise ValueError("The two sides of a comparison need the same terms (coefficients) in the same order.")
    keys = sorted(set.intersection(*(set(units.keys) for _, units in (*better, *worse))))
    if len(keys) < 2:
        raise ValueError(f"Only {len(keys)} (seed, speaker) unit(s) are common to every condition; nothing can be compared.")
    coefficients = np.array([c for c, _ in better])
    # table [2U, J, C, C]: the better side's terms for each unit, then the worse side's
    table = np.concatenate(
        [np.stack([units.aligned(keys) for _, units in side], axis=1) for side in (better, worse)],
        axis=0,
    )
    seeds = np.unique([key[0] for key in keys], return_inverse=True)[1]
    count = len(keys)

    def side(index: np.ndarray) -> np.ndarray:  # index [..., U] into table rows -> value [...]
        rows, unit_seeds = table[index], seeds[index % count]  # [..., U, J, C, C]; each row keeps its unit's seed
        return sum(coefficient * _seed_means(rows[..., j, :, :], unit_seeds, name) for j, coefficient in enumerate(coefficients))

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
    return Comparison(value_better, value_worse, value_better - value_worse, low, high, float(test.pvalue), count, int(seeds.max()) + 1)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error rate; scipy has none)."""
    order = np.argsort(pvalues)
    adjusted = np.empty(len(pvalues))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted.tolist()
