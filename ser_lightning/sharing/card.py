"""The model card of an exported model (``README.md`` in the hub's format: YAML metadata, then Markdown).

It says what the model is (backbone, pooling, classes, sample rate), what it was trained and tested on (corpora,
languages, protocol, seeds, utterances per split, from the run's ``results.json``), how it scored per test group and
SNR (UA, WA, macro-F1, ECE before and after temperature scaling, N), and its limits: acted corpora, the
cross-language gap, and the training data's licences.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..data.summary import parse_group_name
from ..naming import CLEAN, split_group_key

LANGUAGE_NAMES = {"en": "English", "de": "German", "it": "Italian", "ur": "Urdu", "fa": "Persian", "zh": "Mandarin"}
_USE = """```python
from ser_lightning.models import EmotionRecognizer

model = EmotionRecognizer.from_pretrained("{name}")  # a folder, or a hub repository
for prediction in model.predict_files("my_recordings/"):
    print(prediction.path, prediction.label, prediction.probabilities)
```
"""


def _groups(results: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """(role, corpus, language) of every split group of the run's data summary."""
    splits = ((results or {}).get("data") or {}).get("splits") or {}
    return [parse_group_name(name) for split in splits.values() for name in split]


def _languages(results: Mapping[str, Any] | None) -> list[str]:
    return sorted({language for _, _, language in _groups(results)})


def _corpora(results: Mapping[str, Any] | None) -> list[str]:
    return sorted({corpus for _, corpus, _ in _groups(results)})


def results_markdown(groups: Mapping[str, Mapping[str, float]]) -> str:
    """The test table: one row per group and SNR; ECE before (softmax) and after temperature scaling where measured."""
    calibrated = any("ece" in row for row in groups.values())
    head = "| group | SNR | UA | WA | macro-F1 |" + (" ECE | ECE (T) |" if calibrated else "") + " N |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for key, row in groups.items():
        group, snr = split_group_key(key)
        cells = [group, "clean" if snr == CLEAN else f"{snr} dB", *(f"{row[m]:.3f}" for m in ("ua", "wa", "f1"))]
        if calibrated:
            cells += [f"{row['ece_uncalibrated']:.3f}" if "ece_uncalibrated" in row else "", f"{row['ece']:.3f}" if "ece" in row else ""]
        cells.append(str(int(row.get("n", 0))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _training(results: Mapping[str, Any]) -> str:
    data = results.get("data") or {}
    study = results.get("study") or {}
    lines = [
        f"- trained on: {study.get('train') or ', '.join(_corpora(results)) or 'see config'}; tested also on: {study.get('test') or 'none'}",
        f"- seeds: seed_everything {study.get('seed')}, data split seed {study.get('split_seed')}; few-shot k = {study.get('k')}",
    ]
    for split, groups in (data.get("splits") or {}).items():
        counts = ", ".join(f"{name} {sum(row['classes'].values())} utterances / {row['speakers']} speaker(s)" for name, row in groups.items())
        lines.append(f"- {split}: {counts}")
    if data.get("shots"):
        lines.append(f"- few-shot target data: {data['shots']}")
    return "\n".join(lines)


def _results_section(results: Mapping[str, Any] | None, tested: bool, checkpoint: str | None) -> str:
    """The test table when ``results`` tested the exported checkpoint; otherwise a sentence saying the card has none."""
    if results and tested:
        return results_markdown(results.get("groups") or {})
    if not results:
        return "No test results were given to the export."
    other = Path(str(results.get("checkpoint"))).name if results.get("checkpoint") else "the final weights of the run"
    this = checkpoint or "the exported checkpoint"
    return (
        f"No test results of this checkpoint ({this}): the run's results.json tested {other}, another model. "
        f"Test it (`python -m ser_lightning test --ckpt_path {this}`) and export again with `--results` to add its table."
    )


def model_card(
    recognizer: Any,
    name: str = "PATH_OR_REPO",
    results: Mapping[str, Any] | None = None,
    tested: bool = True,
    checkpoint: str | None = None,
    **_: Any,
) -> ModelCard:
    """The card of ``recognizer`` (an ``EmotionRecognizer``), with the run's ``results.json`` content when given: its
    data always, its test table only when ``tested`` (the record tested the exported ``checkpoint``)."""
    hparams = dict(recognizer.hparams)
    backbone = hparams.get("backbone") or {}
    backbone_name = str(backbone.get("class_path", type(recognizer.backbone).__name__)).rsplit(".", 1)[-1]
    pooling = hparams.get("pooling") or {}
    languages = _languages(results)
    metadata = ModelCardData(
        library_name="ser_lightning",
        pipeline_tag="audio-classification",
        tags=["speech-emotion-recognition", "audio-classification", "pytorch-lightning"],
        language=languages or None,
        license="other",
        license_name="training-data-licences",
        license_link="LICENSE",
    )
    temperature = float(getattr(recognizer, "temperature", 1.0))
    sections = [
        f"# Speech emotion recognition: {backbone_name} + {str(pooling.get('class_path', 'MeanPooling')).rsplit('.', 1)[-1]}",
        f"Classes: {', '.join(recognizer.label_names)}. Trained with ser_lightning (PyTorch Lightning). "
        f"Languages heard in training or test: {', '.join(LANGUAGE_NAMES.get(code, code) for code in languages) or 'not recorded'}.",
        "## Use\n\n" + _USE.format(name=name),
        "## Training and test data\n\n" + (_training(results) if results else "No results.json was given to the export: the data is not described."),
        "## Results\n\n"
        + _results_section(results, tested, checkpoint)
        + "\n\nUA: unweighted average recall (the mean recall of the classes present); WA: accuracy; ECE: expected calibration "
        "error (15 bins) of the softmax, and after temperature scaling (T) fit on the validation speakers.",
        f"## Calibration\n\nProbabilities are `softmax(logits / T)` with T = {temperature:.3f}, fit on the validation speakers' "
        "logits (negative log-likelihood); T does not change any prediction, only how confident it is.",
        "## Limits\n\n- Acted emotions: the corpora are actors portraying emotions; spontaneous speech differs, and UA "
        "on it is typically much lower.\n- Languages and corpora not trained on are recognised worse (the cross-language gap "
        "the results above measure as the `target` role); test on your own speakers before relying on it.\n"
        "- Four or so classes of acted speech are not a person's state: do not use this to judge people.\n"
        "- Licence: the weights are derived from the training corpora, each under its own licence set by its distributor "
        "(several allow research use only); check them before using or sharing this model.",
    ]
    return ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")
