"""The names of test groups and SNRs, made and read here only.

A test group is ``all``, a role (``source``, ``target``), a language, a corpus or a speaker; a noisy copy of
the test set adds its SNR: ``target/snr10`` (``snr10`` for ``all``). Logged metrics are ``test/<metric>/<group>``
(``test/ua``, ``test/ua/ur/snr10``, ``test/recall/angry``). Metrics, results files, tables and plots all read
and write these names through this module, so a new SNR format cannot drift between them. No torch here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

CLEAN = "clean"
ALL = "all"
_SNR_PART = re.compile(r"snr(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)")


def snr_tag(snr_db: float | None) -> str:
    """An SNR's name: ``clean`` for None (no added noise), else the value in dB without trailing zeros (``10``, ``7.5``)."""
    return CLEAN if snr_db is None else f"{snr_db:g}"


def snr_value(tag: str) -> float | None:
    """Inverse of :func:`snr_tag`: None for ``clean``, else the SNR in dB."""
    return None if tag == CLEAN else float(tag)


def group_key(group: str, snr: str = CLEAN) -> str:
    """The name of a test group at an SNR tag: ``target`` when clean, ``target/snr10`` at 10 dB (``snr10`` for ``all``)."""
    if snr == CLEAN:
        return group
    return f"snr{snr}" if group == ALL else f"{group}/snr{snr}"


def rows_by_group(meta: Mapping[str, Sequence[str]], size: int, group_by: Sequence[str]) -> dict[str, list[int]]:
    """The rows of a test batch per group key: every row counts towards ``all`` and towards its value of each
    ``group_by`` field of ``meta`` (``role``, ``language``, ...), each at the row's SNR (``meta["snr"]``, else clean)."""
    snrs = meta.get("snr") or [CLEAN] * size
    rows: dict[str, list[int]] = {}
    for row, snr in enumerate(snrs):
        for group in [ALL, *(meta[key][row] for key in group_by if key in meta)]:
            rows.setdefault(group_key(group, snr), []).append(row)
    return rows


def split_group_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`group_key`: (group, SNR tag)."""
    group, _, last = key.rpartition("/")
    match = _SNR_PART.fullmatch(last)
    return (group or ALL, match.group(1)) if match else (key, CLEAN)


def parse_metric_key(key: str) -> tuple[str, str, float | None] | None:
    """Split a logged test metric into (metric, group, SNR in dB or None for clean audio).

    ``test/ua`` -> (ua, all, None); ``test/ua/ur/snr10`` -> (ua, ur, 10.0); ``test/ua/snr0`` -> (ua, all, 0.0);
    ``test/recall/angry`` -> (recall/angry, all, None). Keys outside ``test/`` give None.
    """
    parts = key.split("/")
    if len(parts) < 2 or parts[0] != "test":
        return None
    metric_parts = 2 if parts[1] == "recall" and len(parts) >= 3 else 1
    metric, rest = "/".join(parts[1 : 1 + metric_parts]), "/".join(parts[1 + metric_parts :])
    if not rest:
        return metric, ALL, None
    group, snr = split_group_key(rest)
    return metric, group, snr_value(snr)
