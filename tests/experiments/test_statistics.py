"""Cluster-bootstrap intervals and paired permutation tests over test speakers (each with its rows of every seed)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_lightning.evaluation.metrics import confusion, ua
from ser_lightning.experiments.statistics import Units, holm, interval, metric, paired


def simulated(accuracy: float, seeds: int = 3, speakers: int = 6, per_speaker: int = 12, seed: int = 0, speaker_spread: float = 0.1) -> Units:
    """Units of a 4-class model that is right with ``accuracy`` (varying by speaker), on the same speakers for every model."""
    generator = np.random.default_rng(seed)
    runs = []
    for s in range(seeds):
        labels, predictions, who = [], [], []
        for k in range(speakers):
            own = np.clip(accuracy + speaker_spread * np.random.default_rng(1000 * s + k).normal(), 0.05, 0.95)  # the speaker's difficulty
            truth = np.arange(per_speaker) % 4
            right = generator.random(per_speaker) < own
            labels.append(truth)
            predictions.append(np.where(right, truth, (truth + 1 + generator.integers(0, 3, per_speaker)) % 4))
            who += [f"spk{k}"] * per_speaker
        runs.append((str(s), np.concatenate(labels), np.concatenate(predictions), who))
    return Units.of(runs, 4)


def test_a_cell_is_the_mean_over_seeds_of_each_seeds_metric_and_its_interval_contains_it():
    units = simulated(0.6)
    per_seed = [ua(units.matrices[:, units.seeds.index(s)].sum(0)) for s in ("0", "1", "2")]
    estimate = interval(units)
    assert estimate.value == pytest.approx(np.mean(per_seed))
    assert estimate.low < estimate.value < estimate.high and estimate.high - estimate.low < 0.3
    assert "6 test speakers, 3 seed(s)" in estimate.method


def repeated(units: Units, times: int) -> Units:
    """The same speakers and predictions in ``times`` seeds (a corpus tested whole by identical runs)."""
    return Units(units.keys, [str(s) for s in range(times)], np.repeat(units.matrices[:, :1], times, axis=1))


def test_seeds_that_test_the_same_speakers_add_no_speakers_to_resample():
    # Five seeds that test the same speakers with the same predictions say nothing more about other speakers than one:
    # the interval and the paired test must not narrow (they did when a (seed, speaker) pair was the unit).
    good, poor = simulated(0.65, seeds=1, speakers=8, seed=11), simulated(0.55, seeds=1, speakers=8, seed=12)
    once, five = interval(good), interval(repeated(good, 5))
    assert five.value == pytest.approx(once.value)
    assert (five.low, five.high) == pytest.approx((once.low, once.high))
    single = paired([(1.0, good)], [(1.0, poor)])
    fivefold = paired([(1.0, repeated(good, 5))], [(1.0, repeated(poor, 5))])
    assert fivefold.delta == pytest.approx(single.delta) and fivefold.speakers == single.speakers == 8 and fivefold.seeds == 5
    assert (fivefold.low, fivefold.high) == pytest.approx((single.low, single.high))
    assert fivefold.p == pytest.approx(single.p)


def test_only_the_seeds_and_speakers_both_sides_were_tested_on_are_compared():
    better, worse = simulated(0.8, seed=1), simulated(0.4, seed=2)
    partial = Units(worse.keys, worse.seeds[:2], worse.matrices[:, :2])  # the worse side's third seed not run yet
    result = paired([(1.0, better)], [(1.0, partial)])
    on_two = paired([(1.0, Units(better.keys, better.seeds[:2], better.matrices[:, :2]))], [(1.0, partial)])
    assert result.seeds == 2 and result.delta == pytest.approx(on_two.delta) and result.p == pytest.approx(on_two.p)


def test_more_speakers_give_a_narrower_interval():
    few, many = interval(simulated(0.6, speakers=3)), interval(simulated(0.6, speakers=30))
    assert many.high - many.low < few.high - few.low


def test_a_clearly_better_model_holds_and_equal_models_do_not():
    better, worse = simulated(0.8, seed=1, speakers=10), simulated(0.4, seed=2, speakers=10)
    result = paired([(1.0, better)], [(1.0, worse)])
    assert result.delta == pytest.approx(result.better - result.worse) and result.delta > 0.25
    assert result.p < 0.01 and result.low > 0 and result.speakers == 10 and result.seeds == 3
    # 6 speakers, however clear the difference: the exact test's smallest one-sided p is 1 / 2**6
    assert paired([(1.0, simulated(0.8, seed=1))], [(1.0, simulated(0.4, seed=2))]).p == pytest.approx(1 / 64)
    reverse = paired([(1.0, worse)], [(1.0, better)])
    assert reverse.p > 0.99 and reverse.high < 0
    model = simulated(0.6, seed=3)
    itself = paired([(1.0, model)], [(1.0, model)])  # no unit can tell the two apart: every permutation gives 0
    assert itself.delta == 0 and itself.low == itself.high == 0 and itself.p == 1
    same = paired([(1.0, simulated(0.6, seed=3, per_speaker=60))], [(1.0, simulated(0.6, seed=4, per_speaker=60))])
    assert abs(same.delta) < 0.05 and same.low < 0 < same.high and same.p > 0.05


def test_a_difference_of_differences_compares_gains_on_the_same_units():
    gains_a = [(1.0, simulated(0.8, seed=5, speakers=10)), (-1.0, simulated(0.4, seed=6, speakers=10))]  # a gains 0.4
    gains_b = [(1.0, simulated(0.5, seed=7, speakers=10)), (-1.0, simulated(0.45, seed=8, speakers=10))]  # b gains 0.05
    result = paired(gains_a, gains_b)
    assert result.delta == pytest.approx(0.35, abs=0.12) and result.p < 0.01
    with pytest.raises(ValueError, match="same terms"):
        paired(gains_a, gains_b[:1])


def test_conditions_without_common_units_cannot_be_compared():
    other = Units(["x"], ["9"], np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="speaker"):
        paired([(1.0, simulated(0.5))], [(1.0, other)])


def test_metrics_of_confusion_matrices_match_the_evaluation_metrics():
    generator = np.random.default_rng(0)
    labels, predictions = generator.integers(0, 4, 200), generator.integers(0, 4, 200)
    matrix = confusion(labels, predictions, 4)
    assert metric(matrix, "ua") == pytest.approx(ua(matrix))
    assert metric(matrix, "wa") == pytest.approx((labels == predictions).mean())


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
