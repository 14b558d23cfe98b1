"""Padding waste of length-aware batching versus random batches, on realistic utterance-length mixes.

Durations are drawn from a log-normal fitted to each corpus's published median and p90 (see the
corpora reference), clipped to its min/max. Prints the padded fraction of all samples per batching:
random batches, ``DurationBatchSampler`` batches, and the same with a padded-seconds budget per batch
(``max_seconds``, batch size times the corpus's median duration) when the sampler has that option.
``figures()`` is the suite's item (benchmarks/run.py): the goal is under 5% on IEMOCAP-like lengths.

    python benchmarks/padding.py [--batch-size 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import inspect
import math
import random
import statistics

import torch
from report import Figure, figure, unmeasured
from torch.utils.data import RandomSampler

from ser_lightning.data.batching import DurationBatchSampler, padding_ratio

GOAL = 0.05  # padded fraction on IEMOCAP-like lengths
GOAL_CORPUS = "iemocap (4-class)"
HAS_BUDGET = "max_seconds" in inspect.signature(DurationBatchSampler).parameters

# corpus: (files, min, median, p90, max) seconds
CORPORA = {
    "iemocap (4-class)": (5531, 0.58, 3.58, 8.69, 34.14),
    "emodb": (535, 1.23, 2.59, 3.93, 8.98),
    "emovo": (588, 1.29, 2.77, 4.74, 13.99),
    "shemo": (2838, 0.36, 3.13, 8.11, 33.33),
    "cremad": (7442, 1.27, 2.50, 3.17, 5.00),
}


def durations(files: int, low: float, median: float, p90: float, high: float, seed: int) -> list[float]:
    """Log-normal lengths with the given median and 90th percentile, clipped to [low, high]."""
    sigma = (math.log(p90) - math.log(median)) / 1.2816
    rng = random.Random(seed)
    return [min(high, max(low, rng.lognormvariate(math.log(median), sigma))) for _ in range(files)]


def batchings(name: str, batch_size: int, seed: int) -> tuple[list[float], dict[str, list[list[int]]]]:
    """One corpus's drawn durations and its batches: random, duration-grouped, and (when available) with a seconds budget."""
    spec = CORPORA[name]
    d = durations(*spec, seed=seed)
    order = list(RandomSampler(range(len(d)), generator=torch.Generator().manual_seed(seed)))
    batches = {
        "random": [order[i : i + batch_size] for i in range(0, len(order), batch_size)],
        "grouped": list(DurationBatchSampler(order, d, batch_size, seed=seed)),
    }
    if HAS_BUDGET:
        batches["budget"] = list(DurationBatchSampler(order, d, batch_size, seed=seed, max_seconds=batch_size * spec[2]))
    return d, batches


def figures(quick: bool = False, batch_size: int = 16, seed: int = 0) -> list[Figure]:
    """Padded fraction (%) per batching on IEMOCAP-like lengths, the goal; other corpora in the details (cheap: no quick sizes)."""
    ratios = {}
    rows = {}
    for name in CORPORA:
        d, batches = batchings(name, batch_size, seed)
        ratios[name] = {kind: padding_ratio(b, d) for kind, b in batches.items()}
        rows[name] = {kind: statistics.fmean(len(x) for x in b) for kind, b in batches.items()}
    spec = CORPORA[GOAL_CORPUS]

    def others(kind: str) -> str:
        return ", ".join(f"{name} {ratios[name][kind]:.1%}" for name in CORPORA if name != GOAL_CORPUS)

    source = (
        f"{spec[0]} durations from a log-normal with IEMOCAP's published median {spec[2]} s and p90 {spec[3]} s, "
        f"clipped to [{spec[1]}, {spec[4]}] s; seed {seed}"
    )
    goal = f"< {GOAL:.0%}"
    result = [
        figure(
            "padding: random batches",
            100 * ratios[GOAL_CORPUS]["random"],
            "%",
            detail=f"batches of {batch_size} in random order; {source}; other corpora: {others('random')}",
        ),
        figure(
            "padding: duration grouping",
            100 * ratios[GOAL_CORPUS]["grouped"],
            "%",
            goal,
            ratios[GOAL_CORPUS]["grouped"] < GOAL,
            f"DurationBatchSampler(batch_size={batch_size}) vs {100 * ratios[GOAL_CORPUS]['random']:.1f}% random; "
            f"{source}; other corpora: {others('grouped')}",
        ),
    ]
    budget = batch_size * spec[2]
    if HAS_BUDGET:
        result.append(figure(
            "padding: seconds budget", 100 * ratios[GOAL_CORPUS]["budget"], "%", goal, ratios[GOAL_CORPUS]["budget"] < GOAL,
            f"DurationBatchSampler(batch_size={batch_size}, max_seconds={budget:g}) (batch size x median duration), "
            f"{rows[GOAL_CORPUS]['budget']:.1f} "
            f"utterances per batch on average; {source}; other corpora (their own median): {others('budget')}",
        ))  # fmt: skip
    else:
        result.append(unmeasured("padding: seconds budget", "not available", "DurationBatchSampler has no max_seconds option (yet)", goal))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budget = "seconds budget" if HAS_BUDGET else "(no max_seconds)"
    print(f"{'corpus':<18} {'random':>8} {'duration-grouped':>17} {budget:>15}   (padded fraction, batch size {args.batch_size})")
    for name in CORPORA:
        d, batches = batchings(name, args.batch_size, args.seed)
        cells = [f"{padding_ratio(b, d):.1%}" for b in batches.values()]
        print(f"{name:<18} {cells[0]:>8} {cells[1]:>17} {cells[2] if HAS_BUDGET else '':>15}")


if __name__ == "__main__":
    main()
