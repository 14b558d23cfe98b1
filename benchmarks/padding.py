"""Padding waste of length-aware batching versus random batches, on realistic utterance-length mixes.

Durations are drawn from a log-normal fitted to each corpus's published median and p90 (see the
corpora reference), clipped to its min/max. Prints the padded fraction of all samples per batching.

    python benchmarks/padding.py [--batch-size 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import random

import torch
from torch.utils.data import RandomSampler

from ser_lightning.data.batching import DurationBatchSampler, padding_ratio

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'corpus':<18} {'random':>8} {'duration-grouped':>17}   (padded fraction, batch size {args.batch_size})")
    for name, spec in CORPORA.items():
        d = durations(*spec, seed=args.seed)
        order = list(RandomSampler(range(len(d)), generator=torch.Generator().manual_seed(args.seed)))
        random_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        grouped = list(DurationBatchSampler(order, d, args.batch_size, seed=args.seed))
        print(f"{name:<18} {padding_ratio(random_batches, d):>8.1%} {padding_ratio(grouped, d):>17.1%}")


if __name__ == "__main__":
    main()
