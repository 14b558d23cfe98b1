"""Claims as data: a sweep declares what it sets out to show, and the verdicts are computed from its runs' test rows.

```yaml
claims:
  - name: pre-training beats the CNN-LSTM on the unseen language
    better: {model: whisper_base}          # grid labels (axis: label) of one side ...
    worse: {model: cnn_lstm}               # ... and of the other
    where: {shots: k0}                     # labels both sides share (every other non-seed axis must be fixed)
    group: target                          # all, source, target, a language, a corpus (default: target)
    metric: ua                             # ua (default), wa or f1
  - name: pre-trained models gain more from 20 target shots
    better: {model: whisper_base}
    worse: {model: cnn_lstm}
    change: {shots: [k0, k20]}             # compare the change from the first label to the second, not the level
  - name: noise costs pre-trained models less
    better: {model: whisper_base}
    worse: {model: cnn_lstm}
    where: {shots: k0}
    change: {snr: [clean, 10]}             # snr is a pseudo-axis: the test SNRs of a run
report: {alpha: 0.05}                      # the family's significance level (Holm-corrected across the claims)
```

Each claim is a paired comparison over the test speakers (each with its rows of every seed) both sides were tested on
(:func:`ser_lightning.experiments.statistics.paired`): Δ = better - worse (for a ``change``, the difference of the two
changes), a 95% cluster-bootstrap interval and a one-sided permutation p-value, Holm-adjusted across the sweep's
claims. Verdict: **holds** when Δ > 0 and the adjusted p < alpha; **does not hold** when the whole interval lies below
``margin`` (default 0: the opposite is shown); otherwise **inconclusive**. ``python -m ser_lightning.experiments
claims SWEEP`` prints them and writes ``claims.md`` and ``claims.json`` in the sweep folder.

A sweep still running is judged on the runs finished so far, but never as if it were done: when a side has fewer
finished runs than the grid declares, the verdict reads ``holds so far`` (``does not hold so far``, ``inconclusive so
far``) and the note says how many runs of how many it rests on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation import ROWS_FILE, EvaluationRows, Group, read_rows
from ..fileio import write_text_atomic
from ..naming import CLEAN, snr_tag
from .statistics import Units, holm, paired


class ClaimError(ValueError):
    """A claim that cannot be parsed or evaluated; the message names the sweep file or the claim, and the fix."""


class NotRunYet(ClaimError):
    """A side of a claim has no finished run yet (a sweep that is still running, or partly run)."""


NOT_RUN = "not run yet"
SO_FAR = " so far"  # appended to the verdict of a claim whose sides have not all finished


CLAIM_KEYS = {"name", "better", "worse", "where", "change", "group", "metric", "margin"}
SNR = "snr"
ROLES = ("source", "target")
DEFAULT_ALPHA = 0.05


@dataclass
class Claim:
    """One declared claim (see the module docstring)."""

    name: str
    better: dict[str, str]
    worse: dict[str, str]
    where: dict[str, str] = field(default_factory=dict)
    change: tuple[str, str, str] | None = None  # (axis, from label, to label)
    group: str = "target"
    metric: str = "ua"
    margin: float = 0.0


def _label(axis: str, value: Any) -> str:
    """A label as the grid names it; for the ``snr`` pseudo-axis, the SNR tag (``clean`` for null, ``10`` for 10)."""
    if axis == SNR and not isinstance(value, str):
        return snr_tag(None if value is None else float(value))
    return str(value)


def _labels(value: Any, where: str, path: Path) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ClaimError(f"{path}: {where} must map axes to labels (`{{model: cnn_lstm}}`), got {value!r}.")
    return {str(axis): _label(str(axis), label) for axis, label in value.items()}


def _change(value: Any, where: str, path: Path) -> tuple[str, str, str] | None:
    if value is None:
        return None
    steps = next(iter(value.values())) if isinstance(value, Mapping) and len(value) == 1 else None
    if not isinstance(steps, list) or len(steps) != 2:
        raise ClaimError(f"{path}: {where}: change takes one axis and two labels, e.g. `change: {{shots: [k0, k20]}}`.")
    axis = str(next(iter(value)))
    return axis, _label(axis, steps[0]), _label(axis, steps[1])


def parse_claims(raw: Any, path: Path) -> list[Claim]:
    """The ``claims`` list of a sweep file; raises :class:`ClaimError` naming the claim and the key."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ClaimError(f"{path}: `claims` is a list of claims (name, better, worse, ...), got {type(raw).__name__}.")
    claims = []
    for number, item in enumerate(raw, 1):
        where = f"claim {number}"
        if not isinstance(item, Mapping):
            raise ClaimError(f"{path}: {where} must be a mapping with name, better and worse.")
        unknown, missing = set(item) - CLAIM_KEYS, {"name", "better", "worse"} - set(item)
        if unknown or missing:
            problem = f"unknown key(s) {sorted(unknown)}" if unknown else f"missing {sorted(missing)}"
            raise ClaimError(f"{path}: {where}: {problem}; a claim takes {sorted(CLAIM_KEYS)}.")
        where = f"{where} ({item['name']})"
        metric = str(item.get("metric", "ua"))
        if metric not in ("ua", "wa", "f1"):
            raise ClaimError(f"{path}: {where}: metric is {metric!r}; claims are tested on ua, wa or f1.")
        claims.append(
            Claim(
                name=str(item["name"]),
                better=_labels(item["better"], f"{where}.better", path),
                worse=_labels(item["worse"], f"{where}.worse", path),
                where=_labels(item.get("where"), f"{where}.where", path),
                change=_change(item.get("change"), where, path),
                group=str(item.get("group", "target")),
                metric=metric,
                margin=float(item.get("margin", 0.0)),
            )
        )
    return claims


@dataclass
class FinishedRun:
    """A finished run of a sweep: its grid point (axis -> label), its seed (the replicate axes' labels) and its test rows."""

    name: str
    point: dict[str, str]
    seed: str
    rows_path: Path
    _rows: EvaluationRows | None = None

    @property
    def rows(self) -> EvaluationRows:
        if self._rows is None:
            self._rows = read_rows(self.rows_path)
        return self._rows


def _group_of(name: str, rows: EvaluationRows, snr: str) -> Group:
    """A claim's group name as a structured group: all, a role, else a language, corpus or speaker that the rows have."""
    if name == "all":
        return Group(snr=snr)
    if name in ROLES:
        return Group("role", name, snr)
    for key in ("language", "corpus", "speaker"):
        if name in set(rows.meta[key]):
            return Group(key, name, snr)
    languages = ", ".join(sorted(set(rows.meta["language"])))
    raise ClaimError(f"group {name!r} is no role (source, target), language ({languages}), corpus or speaker of the test rows.")


def _matching(runs: Sequence[FinishedRun], selection: Mapping[str, str], claim: Claim, side: str) -> list[FinishedRun]:
    """The runs of one condition: every non-seed axis fixed by ``selection`` or by having one label among the matches."""
    chosen = [run for run in runs if all(run.point.get(axis) == label for axis, label in selection.items() if axis != SNR)]
    unknown = [axis for axis in selection if axis != SNR and runs and axis not in runs[0].point]
    if unknown:
        raise ClaimError(f"claim {claim.name!r} ({side}): no axis {unknown} in the sweep; its axes are {sorted(runs[0].point)} (and snr).")
    if not chosen:
        raise NotRunYet(f"no finished run has {dict(selection)} ({side})")
    for axis in chosen[0].point:
        labels = sorted({run.point[axis] for run in chosen})
        if len(labels) > 1:
            found = ", ".join(labels)
            raise ClaimError(f"claim {claim.name!r} ({side}): the runs of {dict(selection)} differ in {axis} ({found}); fix it in `where`.")
    return chosen


def units_of(runs: Sequence[FinishedRun], group: str, snr: str, classes: int) -> Units:
    """The test speakers of ``runs`` (with their rows per seed) in test group ``group`` (a name) at SNR tag ``snr``;
    speakers are named with their corpus, so two corpora's speaker 03 stay two speakers."""
    parts = []
    for run in runs:
        rows = run.rows.select(_group_of(group, run.rows, snr).mask(run.rows))
        speakers = [f"{corpus}/{speaker}" for corpus, speaker in zip(rows.meta["corpus"], rows.meta["speaker"])]
        parts.append((run.seed, rows.labels, rows.predictions, speakers))
    units = Units.of(parts, classes)
    if not units.keys:
        raise ClaimError(f"no test rows of group {group!r} at SNR {snr} in {', '.join(run.name for run in runs)}.")
    return units


def _conditions(claim: Claim, labels: Mapping[str, str]) -> list[tuple[float, dict[str, str]]]:
    """One side's conditions with their signs: its selection, or for a ``change`` the selection at the second label
    (+1) and at the first (-1)."""
    selection = {**claim.where, **labels}
    if claim.change is None:
        return [(1.0, selection)]
    axis, first, second = claim.change
    return [(1.0, {**selection, axis: second}), (-1.0, {**selection, axis: first})]


def _side(runs: Sequence[FinishedRun], claim: Claim, labels: Mapping[str, str], side: str) -> list[tuple[float, Units]]:
    """The terms of one side: its condition, or for a ``change`` the condition at the second label minus at the first."""
    terms = []
    for coefficient, chosen in _conditions(claim, labels):
        matching = _matching(runs, chosen, claim, side)
        classes = len(matching[0].rows.label_names)
        terms.append((coefficient, units_of(matching, claim.group, chosen.get(SNR, CLEAN), classes)))
    return terms


def verdict(delta: float, low: float, high: float, p_adjusted: float, alpha: float, margin: float) -> str:
    """``holds``, ``does not hold`` or ``inconclusive`` (see the module docstring)."""
    if delta > 0 and p_adjusted < alpha:
        return "holds"
    if high < margin:
        return "does not hold"
    return "inconclusive"


def check_labels(claims: Sequence[Claim], points: Sequence[Mapping[str, str]]) -> None:
    """Every axis and label a claim names is in the sweep's grid (``snr`` aside): a typo is refused, not waited for."""
    known: dict[str, set[str]] = {}
    for point in points:
        for axis, label in point.items():
            known.setdefault(axis, set()).add(label)
    for claim in claims:
        changed = [(claim.change[0], label) for label in claim.change[1:]] if claim.change else []
        for axis, label in [*claim.where.items(), *claim.better.items(), *claim.worse.items(), *changed]:
            if axis == SNR:
                continue
            if axis not in known:
                raise ClaimError(f"claim {claim.name!r}: no axis {axis!r} in the sweep; its axes are {sorted(known)} (and snr).")
            if label not in known[axis]:
                raise ClaimError(f"claim {claim.name!r}: {axis}={label} is not a label of the grid ({', '.join(sorted(known[axis]))}).")


def _declared_and_finished(claim: Claim, runs: Sequence[FinishedRun], points: Sequence[Mapping[str, str]]) -> tuple[int, int]:
    """How many runs the grid declares for the claim's conditions (both sides, every step of a change), and how many
    of them have finished."""
    selections = [
        {axis: label for axis, label in chosen.items() if axis != SNR}
        for labels in (claim.better, claim.worse)
        for _, chosen in _conditions(claim, labels)
    ]
    unique = [dict(items) for items in {tuple(sorted(selection.items())) for selection in selections}]

    def count(items: Sequence[Mapping[str, str]]) -> int:
        return sum(1 for item in items for selection in unique if all(item.get(axis) == label for axis, label in selection.items()))

    return count(points), count([run.point for run in runs])


def evaluate(
    claims: Sequence[Claim], runs: Sequence[FinishedRun], alpha: float = DEFAULT_ALPHA, declared: Sequence[Mapping[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Every claim's comparison and verdict (Holm-adjusted across ``claims``), as JSON-ready records.

    A claim with a side that has no finished run yet is ``not run yet`` and enters Holm's correction with p = 1: the
    family stays the declared one, so the claims already computed are never judged less strictly than they will be.
    ``declared``: the grid's points (replicate axes included); a claim that rests on fewer finished runs than they
    declare gets its verdict ``... so far`` and ``runs`` = [finished, declared] in its record."""
    records = []
    for claim in claims:
        record: dict[str, Any] = {**asdict(claim), "change": {claim.change[0]: [claim.change[1], claim.change[2]]} if claim.change else None}
        try:
            comparison = paired(_side(runs, claim, claim.better, "better"), _side(runs, claim, claim.worse, "worse"), claim.metric)
        except NotRunYet as missing:
            empty = dict.fromkeys(("better_value", "worse_value", "delta", "low", "high", "seeds", "speakers"))
            records.append(record | empty | {"p": None, "missing": str(missing)})
            continue
        record |= {
            "better_value": comparison.better,
            "worse_value": comparison.worse,
            "delta": comparison.delta,
            "low": comparison.low,
            "high": comparison.high,
            "p": comparison.p,
            "seeds": comparison.seeds,
            "speakers": comparison.speakers,
        }
        records.append(record)
    for record, adjusted in zip(records, holm([1.0 if record["p"] is None else record["p"] for record in records])):
        if record["p"] is None:
            record["p_holm"], record["verdict"] = None, NOT_RUN
            record["note"] = f"{record.pop('missing')}: run the sweep; counted with p = 1 in Holm's correction meanwhile"
            continue
        record["p_holm"] = adjusted
        record["verdict"] = verdict(record["delta"], record["low"], record["high"], adjusted, alpha, record["margin"])
        record["note"] = (
            f"{record['speakers']} test speakers over {record['seeds']} seeds; 95% cluster-bootstrap interval; "
            "one-sided paired permutation p, Holm-adjusted"
        )
    if declared is not None:
        for claim, record in zip(claims, records):
            expected, finished = _declared_and_finished(claim, runs, declared)
            record["runs"] = [finished, expected]
            if record["verdict"] != NOT_RUN and finished < expected:
                record["verdict"] += SO_FAR
                record["note"] += f"; provisional: {finished} of the {expected} runs it compares have finished"
    return records


def _describe(record: Mapping[str, Any]) -> str:
    sides = f"{_side_name(record['better'], record['where'])} vs {_side_name(record['worse'], record['where'])}"
    if record["change"]:
        axis, (first, second) = next(iter(record["change"].items()))
        sides += f", change {axis} {first} -> {second}"
    return f"{sides}, {record['group']}"


def _side_name(labels: Mapping[str, str], where: Mapping[str, str]) -> str:
    return ",".join(f"{axis}={label}" for axis, label in {**where, **labels}.items())


def claims_markdown(records: Sequence[Mapping[str, Any]], alpha: float, title: str) -> str:
    """The claims as a Markdown table: claim, Δ, interval, p, Holm-adjusted p, verdict (and what was compared)."""
    lines = [
        f"# {title}",
        "",
        f"Paired comparisons on the same seeds and test speakers; Δ = better - worse (for a change: the difference of the "
        f"changes); 95% cluster-bootstrap interval over test speakers (a speaker's rows of every seed together); one-sided paired "
        f"permutation p (a speaker's predictions exchanged in every seed at once), Holm-adjusted "
        f"across these {len(records)} claims; alpha = {alpha:g}.",
        "",
        "| claim | compared | better | worse | Δ | 95% interval | p | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        metric = r["metric"].upper()
        if r["verdict"] == NOT_RUN:
            lines.append(f"| {r['name']} | {_describe(r)} | – | – | – | – | – | – | **{NOT_RUN}** ({r['note']}) |")
            continue
        lines.append(
            f"| {r['name']} | {_describe(r)} | {r['better_value']:.3f} | {r['worse_value']:.3f} | {r['delta']:+.3f} {metric} | "
            f"[{r['low']:+.3f}, {r['high']:+.3f}] | {r['p']:.4f} | {r['p_holm']:.4f} | **{r['verdict']}**{_provisional(r)} |"
        )
    return "\n".join(lines) + "\n"


def _provisional(record: Mapping[str, Any]) -> str:
    """`` (8 of 10 runs)`` after a verdict that rests on a sweep still running; nothing after a final one."""
    if not str(record["verdict"]).endswith(SO_FAR):
        return ""
    finished, expected = record["runs"]
    return f" ({finished} of {expected} runs)"


def write_claims(folder: Path, records: Sequence[Mapping[str, Any]], alpha: float, sweep: str, title: str | None = None) -> tuple[Path, Path]:
    """``claims.json`` and ``claims.md`` (headed ``title``, default ``SWEEP: claims``) in the sweep folder."""
    data = {"sweep": sweep, "alpha": alpha, "claims": list(records)}
    json_path = write_text_atomic(folder / "claims.json", json.dumps(data, indent=1))
    md_path = write_text_atomic(folder / "claims.md", claims_markdown(records, alpha, title or f"{sweep}: claims"))
    return json_path, md_path


def finished_runs(specs: Sequence[Any], replicates: Sequence[str], state_of: Callable[[Any], str]) -> list[FinishedRun]:
    """The sweep's finished runs that kept their test rows (runs from before rows were kept are left out)."""
    runs = []
    for spec in specs:
        rows = Path(spec.folder) / "logs" / ROWS_FILE
        if state_of(spec) == "done" and rows.is_file():
            seed = ",".join(spec.point[axis] for axis in replicates if axis in spec.point) or "0"
            point = {axis: label for axis, label in spec.point.items() if axis not in replicates}
            runs.append(FinishedRun(spec.name, point, seed, rows))
    return runs
