"""Summaries of a manifest: counts per label, speaker, language and gender, hours, duration percentiles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from .manifest import Utterance

PERCENTILES = (0, 10, 50, 90, 99, 100)


def _counts(title: str, counter: Counter) -> list[str]:
    width = max(len(str(key)) for key in counter)
    total = sum(counter.values())
    lines = [f"{title} ({len(counter)})"]
    lines += [
        f"  {str(key):<{width}}  {count:>7}  {100 * count / total:5.1f}%"
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
    return lines


def manifest_stats(utterances: Sequence[Utterance]) -> str:
    """A plain-text report of a manifest (durations of 0, i.e. unknown, are counted apart)."""
    lines = [f"utterances: {len(utterances)}"]
    for title, key in (("label", "label"), ("speaker", "speaker"), ("language", "language"), ("corpus", "corpus")):
        lines += _counts(title, Counter(getattr(u, key) for u in utterances))
    lines += _counts("gender", Counter(u.extra.get("gender", "unknown") for u in utterances))
    durations = np.array([u.duration for u in utterances if u.duration > 0])
    unknown = len(utterances) - len(durations)
    if len(durations):
        lines.append(f"hours: {durations.sum() / 3600:.3f}")
        values = np.percentile(durations, PERCENTILES)
        lines.append(
            "duration (s): " + "  ".join(f"{'min' if p == 0 else 'max' if p == 100 else f'p{p}'} {v:.2f}" for p, v in zip(PERCENTILES, values))
        )
        rates = Counter(u.sample_rate for u in utterances if u.sample_rate)
        lines.append("sample rate (Hz): " + ", ".join(f"{rate} x{count}" for rate, count in sorted(rates.items())))
    if unknown:
        lines.append(f"duration unknown for {unknown} utterances (write the manifest with `manifest` to probe them)")
    return "\n".join(lines)
