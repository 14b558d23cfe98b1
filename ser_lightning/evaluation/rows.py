"""Per-utterance test predictions: one row per test utterance and SNR, in memory and as a compressed CSV file.

A row holds who said what in which language (``path``, ``corpus``, ``language``, ``speaker``, ``role``, ``snr``),
the true class, the calibrated class probabilities (``softmax(logits / T)``) and the plain softmax (T = 1). The file
(:data:`ROWS_FILE`, gzip-compressed CSV, one header line) opens in any spreadsheet or data-frame library:

    path,corpus,language,speaker,role,snr,label,prediction,p_angry,...,softmax_angry,...

Probabilities are float32, written with 9 significant digits, which read back to the same float32 numbers: metrics
recomputed from the file equal the ones computed in the run.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..naming import CLEAN

ROWS_FILE = "test_predictions.csv.gz"
META = ("path", "corpus", "language", "speaker", "role", "snr")


@dataclass
class EvaluationRows:
    """A table of test predictions: ``meta`` columns (:data:`META`, strings), ``labels`` [N] (class indices), calibrated
    ``probabilities`` [N, C] and ``uncalibrated`` ones [N, C] (float32), for the classes ``label_names``."""

    label_names: list[str]
    meta: dict[str, list[str]]
    labels: np.ndarray
    probabilities: np.ndarray
    uncalibrated: np.ndarray

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.probabilities = np.asarray(self.probabilities, dtype=np.float32).reshape(len(self.labels), len(self.label_names))
        self.uncalibrated = np.asarray(self.uncalibrated, dtype=np.float32).reshape(len(self.labels), len(self.label_names))
        size = len(self.labels)
        self.meta = {key: [str(value) for value in self.meta.get(key, [""] * size)] for key in META}
        if key := next((key for key in META if len(self.meta[key]) != size), None):
            raise ValueError(f"Evaluation rows: column {key} has {len(self.meta[key])} values for {size} rows.")

    @classmethod
    def from_batch(
        cls, label_names: Sequence[str], meta: Mapping[str, Sequence[Any]], labels: Any, probabilities: Any, uncalibrated: Any
    ) -> EvaluationRows:
        """The rows of one test batch (``meta`` as the loaders give it; a batch without ``snr`` is clean audio)."""
        size = len(labels)
        columns = {key: list(meta.get(key) or ([CLEAN] if key == "snr" else [""]) * size) for key in META}
        return cls(list(label_names), columns, np.asarray(labels), np.asarray(probabilities), np.asarray(uncalibrated))

    @classmethod
    def concat(cls, parts: Sequence[EvaluationRows], label_names: Sequence[str]) -> EvaluationRows:
        """One table of several (e.g. the batches of a test, or the shards of its DDP ranks)."""
        parts = [part for part in parts if len(part)]
        classes = len(label_names)
        if not parts:
            empty = np.zeros((0, classes), dtype=np.float32)
            return cls(list(label_names), {key: [] for key in META}, np.zeros(0, dtype=np.int64), empty, empty)
        return cls(
            list(label_names),
            {key: [value for part in parts for value in part.meta[key]] for key in META},
            np.concatenate([part.labels for part in parts]),
            np.concatenate([part.probabilities for part in parts]),
            np.concatenate([part.uncalibrated for part in parts]),
        )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def predictions(self) -> np.ndarray:
        """The predicted class of every row (argmax of the calibrated probabilities: the same as of the plain ones)."""
        return self.probabilities.argmax(1) if len(self) else np.zeros(0, dtype=np.int64)

    def column(self, key: str) -> np.ndarray:
        """A meta column as an array of strings."""
        return np.asarray(self.meta[key], dtype=object)

    def select(self, mask: np.ndarray) -> EvaluationRows:
        """The rows where ``mask`` (bool [N]) is true."""
        index = np.flatnonzero(mask)
        return EvaluationRows(
            self.label_names,
            {key: [values[i] for i in index] for key, values in self.meta.items()},
            self.labels[index],
            self.probabilities[index],
            self.uncalibrated[index],
        )

    def unique(self) -> EvaluationRows:
        """Each (path, SNR) once, in the order first seen: a sampler that pads DDP shards repeats some utterances (rows
        without a path, from a loader that gives none, are all kept)."""
        seen: set[tuple[str, str]] = set()
        keep = np.ones(len(self), dtype=bool)
        for i, key in enumerate(zip(self.meta["path"], self.meta["snr"])):
            if key[0] and key in seen:
                keep[i] = False
            seen.add(key)
        return self if keep.all() else self.select(keep)


def _floats(values: np.ndarray) -> list[str]:
    return [f"{value:.9g}" for value in values.tolist()]


def write_rows(rows: EvaluationRows, path: str | Path) -> Path:
    """Write ``rows`` as gzip-compressed CSV (see the module docstring); atomically, so a reader never sees half a file."""
    from ..fileio import write_bytes_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = rows.label_names
    writer.writerow([*META, "label", "prediction", *(f"p_{name}" for name in names), *(f"softmax_{name}" for name in names)])
    predictions = rows.predictions
    for i in range(len(rows)):
        cells = [rows.meta[key][i] for key in META]
        writer.writerow([*cells, names[rows.labels[i]], names[predictions[i]], *_floats(rows.probabilities[i]), *_floats(rows.uncalibrated[i])])
    data = gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0)
    return write_bytes_atomic(Path(path), data)


def read_rows(path: str | Path) -> EvaluationRows:
    """Read a file written by :func:`write_rows`; raises ``ValueError`` naming the file when it is not one."""
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            table = list(csv.reader(handle))
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a readable test-predictions file ({error}); re-run the test.") from None
    if not table or list(table[0][: len(META)]) != list(META):
        raise ValueError(f"{path}: its header is not {', '.join(META)}, ...; it was not written by ser_lightning.")
    header = table[0]
    names = [column[2:] for column in header if column.startswith("p_")]
    if [column for column in header if column.startswith("softmax_")] != [f"softmax_{name}" for name in names]:
        raise ValueError(f"{path}: the p_ and softmax_ columns do not name the same classes.")
    body = table[1:]
    index = {name: i for i, name in enumerate(names)}
    first = len(META) + 2
    try:
        labels = np.array([index[row[len(META)]] for row in body], dtype=np.int64)
        values = np.array([row[first:] for row in body], dtype=np.float32).reshape(len(body), 2 * len(names))
    except (KeyError, ValueError, IndexError) as error:
        raise ValueError(f"{path}: a row does not parse ({error!r}); the file is damaged: re-run the test.") from None
    meta = {key: [row[i] for row in body] for i, key in enumerate(META)}
    return EvaluationRows(names, meta, labels, values[:, : len(names)], values[:, len(names) :])
