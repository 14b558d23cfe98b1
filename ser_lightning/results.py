"""The schema of a run's ``results.json``: written after every test by :class:`~ser_lightning.run_files.RunRecorder`, read by
the experiments (sweeps, tables, plots).

It holds the test metrics (named by :mod:`ser_lightning.naming`), the results per test group, the resolved config,
the study fields read from that config (backbone, train and test corpora, k, seeds) and the data summary. It lives
below the callback that writes it and the experiments that read it. Light on purpose (no torch): a sweep reads hundreds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .fileio import write_text_atomic

RESULTS_FILE = "results.json"
RESULTS_FORMAT = 1


def write_results(
    log_dir: str | Path,
    subcommand: str,
    checkpoint: str | None,
    metrics: Mapping[str, float],
    groups: Mapping[str, Mapping[str, float]],
    config: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    predictions: str | None = None,
) -> Path:
    """Write ``results.json`` in ``log_dir``: test metrics, per-group results, the resolved config and its study fields,
    ``data``: what the run trained and tested on (utterances per class and split, the shots drawn; see
    :mod:`ser_lightning.data.summary`), and ``predictions``: the name of the per-utterance rows file beside it that the
    metrics were computed from (:mod:`ser_lightning.evaluation`)."""
    path = Path(log_dir) / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": RESULTS_FORMAT,
        "subcommand": subcommand,
        "checkpoint": checkpoint,
        "metrics": {key: float(value) for key, value in sorted(metrics.items())},
        "groups": {group: {key: float(value) for key, value in row.items()} for group, row in groups.items()},
        "study": study_fields(config, data),
        "config": config,
        "data": dict(data) if data else None,
        "predictions": predictions,
    }
    return write_text_atomic(path, json.dumps(record, indent=1, default=str))  # a reader never sees half a file


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json``; raises ``ValueError`` naming the file when it is not one."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable results file ({error}); re-run that run.") from None
    if not isinstance(record, dict) or "metrics" not in record:
        raise ValueError(f"{path} has no `metrics`; it was not written by ser_lightning's CLI.")
    return record


def _init_args(block: Any) -> dict[str, Any]:
    if not isinstance(block, Mapping):
        return {}
    return dict(block.get("init_args") or {}) if "class_path" in block else dict(block)


def backbone_name(backbone: Any) -> str | None:
    """A short name of a backbone config: the checkpoint's name (``wav2vec2-xls-r-300m``) or the class (``cnnlstm``)."""
    if not isinstance(backbone, Mapping) or "class_path" not in backbone:
        return None
    args = _init_args(backbone)
    if args.get("name_or_path"):
        return str(args["name_or_path"]).rstrip("/").rsplit("/", 1)[-1]
    name = str(backbone["class_path"]).rsplit(".", 1)[-1].lower()
    model_type = (args.get("config") or {}).get("model_type") if isinstance(args.get("config"), Mapping) else None
    return f"{model_type}-{name}" if model_type else name


def corpora_label(corpora: Any) -> str | None:
    """``en+de+it`` for language-filtered corpora, ``iemocap+emodb`` for whole ones (class names), in config order."""
    if not corpora:
        return None
    labels: list[str] = []
    for corpus in corpora if isinstance(corpora, Sequence) and not isinstance(corpora, str) else [corpora]:
        args = _init_args(corpus)
        languages = args.get("languages")
        if languages:
            names = [str(language) for language in ([languages] if isinstance(languages, str) else languages)]
        else:
            names = [str(corpus.get("class_path", "corpus")).rsplit(".", 1)[-1].lower() if isinstance(corpus, Mapping) else str(corpus)]
        labels.extend(name for name in names if name not in labels)
    return "+".join(labels)


def drawn_k(summary: Mapping[str, Any] | None) -> float | None:
    """The few-shot k a run really trained with: shots per class (their mean where a fraction gave classes
    different counts), 0 for a run without shots, None when the summary does not say."""
    if not summary or "shots" not in summary:
        return None
    counts = [n for group in summary["shots"].values() for n in group.values()]
    if not counts:
        return 0
    mean = sum(counts) / len(counts)
    return int(mean) if mean == int(mean) else round(mean, 2)


def _split_args(data_args: Mapping[str, Any]) -> dict[str, Any]:
    """The options that decide the split: the DataModule's own, or its ``plan``'s (``data.init_args.plan``)."""
    return _init_args(data_args["plan"]) if isinstance(data_args.get("plan"), Mapping) else dict(data_args)


def _trained_corpora(split_args: Mapping[str, Any]) -> Any:
    """The corpora trained on: ``sources`` (corpora, or a plan of them), ``corpora``, or one ``corpus`` (``CorpusFolds``)."""
    sources = split_args.get("sources")
    if isinstance(sources, Mapping) and "class_path" in sources:  # a plan: SpeakerHoldout(corpora) or CorpusFolds(corpus)
        return _trained_corpora(_init_args(sources))
    if sources:
        return sources
    return split_args.get("corpora") or split_args.get("corpus")


def study_fields(config: Mapping[str, Any], data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The fields a study compares runs by, read from a resolved CLI config (missing options give None).

    backbone, pretrained (None for backbones without pre-training), train (source languages or corpora),
    test (target languages or corpora), k (few-shot target examples per class really drawn, from the run's
    ``data`` summary when given, so a ``shots_fraction`` run shows its shots; else ``shots_per_class``;
    0 = zero-shot), seed (``seed_everything``), split_seed (the data seed: the DataModule's ``seed``, or
    ``seed_everything`` when that is null) and test_snrs.
    """
    model = config.get("model") or {}
    model_args = _init_args(model) if "class_path" in model else dict(model)
    backbone = model_args.get("backbone")
    backbone_args = _init_args(backbone)
    data_args = _init_args(config.get("data"))
    split_args = _split_args(data_args)
    drawn = drawn_k(data)
    return {
        "backbone": backbone_name(backbone),
        "pretrained": backbone_args.get("pretrained"),
        "train": corpora_label(_trained_corpora(split_args)),
        "test": corpora_label(split_args.get("targets")),
        "k": drawn if drawn is not None else split_args.get("shots_per_class") or 0,
        "seed": config.get("seed_everything"),
        "split_seed": data_args.get("seed") if data_args.get("seed") is not None else (data or {}).get("seed", config.get("seed_everything")),
        "test_snrs": data_args.get("test_snrs"),
    }
