"""What a study's figures and report call things, and the one colour of each model.

A model is the point of the sweep's model axes (those whose points set ``model.*`` options or a backbone config),
named by the sweep's ``labels`` (``labels: {model: {whisper_base: Whisper base}}``), else by the grid's own labels.
Colours are given once per sweep, in the sorted order of its models' grid labels, so a model has the same colour in
every figure of the sweep, and in every sweep with the same model labels (``real_urdu`` and ``real_crosslingual``).
Without a sweep (or for a run it does not know), the model is the run's backbone, ``, untrained`` when it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..axes import Axis, short_names, value_label
from ..collect import FIELDS, factor_columns
from ..grid import expand
from ..sweep import Sweep

# Okabe & Ito's colour-blind-safe palette (yellow last: faint on white), then Paul Tol's muted colours.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#882255", "#999933", "#44aa99", "#f0e442")
PRETRAINED = {"true": "pre-trained", "false": "untrained"}

Row = Mapping[str, Any]


def is_model_axis(axis: Axis) -> bool:
    """An axis that picks the model: some point sets a ``model.*`` option or a backbone config."""
    for _, overrides in axis.points:
        for key, value in overrides.items():
            configs = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            if key.startswith("model.") or (key == "config" and any("backbone" in str(c) for c in configs)):
                return True
    return axis.name.startswith("model.")


def _is_pretrained_axis(axis: Axis) -> bool:
    return all(key.endswith(".pretrained") for _, overrides in axis.points for key in overrides) and any(o for _, o in axis.points)


@dataclass
class Names:
    """Display names of models and axis labels, and a colour per model.

    Args:
        model_axes: the grid's model axes, by the names runs and tidy rows use.
        models: every model's display name, in the sweep's grid order (the order of legends and panels).
        colours: display name -> colour.
        points: run name -> its grid point (axis -> label).
        labels: axis -> grid label -> display name.
    """

    model_axes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    points: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_sweep(cls, sweep: Sweep) -> Names:
        """Names from a sweep: its model axes, its ``labels`` and its runs' grid points."""
        shown = short_names(sweep.axes, sweep.names)
        labels = {shown[name]: dict(mapping) for name, mapping in sweep.labels.items()}
        for axis in sweep.axes:
            if _is_pretrained_axis(axis):
                labels[shown[axis.name]] = {**PRETRAINED, **labels.get(shown[axis.name], {})}
        names = cls([shown[axis.name] for axis in sweep.axes if is_model_axis(axis)], labels=labels)
        keys: dict[str, str] = {}  # display name -> grid labels
        for spec in expand(sweep):
            names.points[spec.name] = dict(spec.point)
            model = names.model({"run": spec.name})
            if names.model_axes and model not in names.models:  # else models are named by their runs' backbones
                names.models.append(model)
                keys[model] = ", ".join(spec.point[axis] for axis in names.model_axes)
        for model in sorted(names.models, key=lambda model: keys[model]):
            names.colour(model)
        return names

    def model(self, row: Row) -> str:
        """The display name of a row's model."""
        point = self.points.get(str(row.get("run")))
        if point is not None and self.model_axes:
            return ", ".join(self.value(axis, point[axis]) for axis in self.model_axes)
        name = str(row.get("backbone") or "model")
        return f"{name}, untrained" if row.get("pretrained") is False else name

    def colour(self, model: str) -> str:
        """The model's colour: fixed by the sweep (models it does not know get the next colours, in the order asked)."""
        if model not in self.models:
            self.models.append(model)
        if model not in self.colours:
            self.colours[model] = PALETTE[len(self.colours) % len(PALETTE)]
        return self.colours[model]

    def ordered(self, rows: Sequence[Row]) -> list[str]:
        """The models of ``rows`` in the sweep's order."""
        present = {self.model(row) for row in rows}
        for model in sorted(present - set(self.models)):
            self.colour(model)
        return [model for model in self.models if model in present]

    def value(self, column: str, value: Any) -> str:
        """The display name of a value of a column (an axis label, a corpus, k)."""
        label = value_label(value)
        return self.labels.get(column, {}).get(label, label)

    def condition(self, columns: Sequence[str], values: Sequence[Any]) -> str:
        """``target: urdu, k: 5``: a condition other than the model, for panel titles and table rows."""
        return ", ".join(f"{column}: {self.value(column, value)}" for column, value in zip(columns, values))

    def extra_conditions(self, rows: Sequence[Row], fixed: Sequence[str], replicates: Sequence[str]) -> list[str]:
        """Columns that still tell ``rows`` apart once the model and ``fixed`` columns are known (grid axes before study fields)."""
        columns = [c for c in factor_columns(rows, replicates) if not c.startswith("_")]  # not the figures' own keys
        candidates = [c for c in columns if c not in FIELDS] + [c for c in columns if c in FIELDS]
        extra: list[str] = []
        for column in candidates:
            if column in fixed:
                continue
            seen: dict[tuple, set] = {}
            for row in rows:
                key = (self.model(row), *(row.get(c) for c in (*fixed, *extra)))
                seen.setdefault(key, set()).add(value_label(row.get(column)))
            if any(len(values) > 1 for values in seen.values()):
                extra.append(column)
        return extra
