"""Fabricated sweep folders (no training): finished runs with results.json files shaped like the real-speech study's.

``real_urdu_like`` gives the numbers of the README's real-speech tables (test UA, 4 models, k = 0/5/20, noise at
k = 0), each seed moved by a fixed offset, so figures and reports can be looked at and tested as a reader sees them.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ser_lightning.experiments.collect import load_records, tidy_rows
from ser_lightning.experiments.grid import RunSpec, expand
from ser_lightning.experiments.runs import RunFolder
from ser_lightning.experiments.sweep import Sweep, load_sweep
from ser_lightning.results import write_results

CLASSES = ("angry", "happy", "neutral", "sad")
LANGUAGE = {"urdu": "ur", "emodb": "de", "emovo": "it", "ravdess": "en"}
BACKBONES = {
    "cnn_lstm": ("ser_lightning.models.CNNLSTM", {"n_mels": 64}),
    "whisper_base": ("ser_lightning.models.WhisperBackbone", {"name_or_path": "pypi:base", "pretrained": True}),
    "whisper_base_untrained": ("ser_lightning.models.WhisperBackbone", {"name_or_path": "pypi:base", "pretrained": False}),
    "whisper_tiny_en": ("ser_lightning.models.WhisperBackbone", {"name_or_path": "pypi:tiny.en", "pretrained": True}),
}
# test UA: source, target at k = 0, 5, 20; source and target at clean / 20 / 10 / 0 dB (README, real speech)
REAL = {
    "cnn_lstm": (0.614, (0.407, 0.454, 0.416), (0.614, 0.532, 0.487, 0.332), (0.407, 0.396, 0.294, 0.250)),
    "whisper_base": (0.739, (0.509, 0.549, 0.556), (0.739, 0.738, 0.735, 0.523), (0.509, 0.493, 0.479, 0.442)),
    "whisper_base_untrained": (0.442, (0.271, 0.290, 0.306), (0.442, 0.380, 0.331, 0.296), (0.271, 0.271, 0.250, 0.247)),
    "whisper_tiny_en": (0.705, (0.508, 0.502, 0.531), (0.705, 0.707, 0.600, 0.377), (0.508, 0.500, 0.469, 0.314)),
}
# cross-language: target UA / source UA per held-out corpus (README, real_crosslingual)
CROSS = {
    "cnn_lstm": {"urdu": (0.413, 0.614), "emodb": (0.399, 0.485), "emovo": (0.495, 0.585), "ravdess": (0.369, 0.634)},
    "whisper_base": {"urdu": (0.543, 0.739), "emodb": (0.693, 0.665), "emovo": (0.623, 0.724), "ravdess": (0.480, 0.733)},
    "whisper_base_untrained": {"urdu": (0.277, 0.442), "emodb": (0.306, 0.332), "emovo": (0.341, 0.421), "ravdess": (0.274, 0.447)},
    "whisper_tiny_en": {"urdu": (0.561, 0.705), "emodb": (0.708, 0.662), "emovo": (0.601, 0.683), "ravdess": (0.373, 0.727)},
}
SNRS = (None, 20, 10, 0)


def jitter(*key: Any, scale: float = 0.03) -> float:
    """A fixed offset per key (the same every time): what a seed moves a result by."""
    return float(np.random.default_rng(zlib.crc32(repr(key).encode())).normal(0, scale))


def run_config(model: str, sources: list[str], targets: list[str], k: int, seed: int) -> dict[str, Any]:
    class_path, init_args = BACKBONES[model]
    return {
        "seed_everything": seed,
        "model": {"backbone": {"class_path": class_path, "init_args": init_args}, "lr_head": 1e-3},
        "data": {
            "class_path": "ser_lightning.data.SERDataModule",
            "init_args": {"sources": sources, "targets": targets, "shots_per_class": k, "seed": None},
        },
    }


def run_metrics(groups: Mapping[str, float], noisy: Mapping[tuple[str, int], float], key: tuple) -> tuple[dict[str, float], dict[str, dict]]:
    """Logged test metrics and per-group results from UA per group (clean) and per (group, SNR)."""
    metrics = {"test/ua" if g == "all" else f"test/ua/{g}": v for g, v in groups.items()}
    metrics |= {(f"test/ua/snr{snr}" if g == "all" else f"test/ua/{g}/snr{snr}"): v for (g, snr), v in noisy.items()}
    for index, label in enumerate(CLASSES):
        metrics[f"test/recall/{label}"] = float(np.clip(groups["all"] + (0.15, -0.12, 0.06, -0.09)[index] + jitter(key, label, scale=0.03), 0, 1))
    sizes = {"source": 72, "target": 120, "all": 192, "en": 24, "de": 24, "it": 24, "ur": 120}
    return metrics, {g: {"ua": v, "n": float(sizes.get(g, 48))} for g, v in groups.items()}


def finish(spec: RunSpec, metrics: dict[str, float], groups: dict[str, dict], config: dict[str, Any], seconds: float = 42.0) -> None:
    """A finished run's folder: run.json, run.log, logs/config.yaml, logs/results.json and the done marker."""
    folder = RunFolder(spec.folder)
    folder.describe(spec.as_dict())
    folder.log.write_text(f"{spec.command_line}\n... training ...\nTest UA {metrics.get('test/ua', float('nan')):.3f}\n")
    folder.log_dir.mkdir(parents=True, exist_ok=True)
    (folder.log_dir / "config.yaml").write_text(yaml.safe_dump(config))
    write_results(folder.log_dir, "fit", str(folder.root / "checkpoints" / "best.ckpt"), metrics, groups, config)
    folder.mark_done(seconds)


def fail(spec: RunSpec, error: str = "RuntimeError: CUDA out of memory") -> None:
    folder = RunFolder(spec.folder)
    folder.describe(spec.as_dict())
    folder.log.write_text(f"{spec.command_line}\nTraceback (most recent call last):\n  ...\n{error}\n")
    folder.mark_failed(error, folder.log)


def fabricate(
    sweep: Sweep, result: Callable[[RunSpec], tuple[dict, dict, dict] | None], failed: set[str] = frozenset(), pending: set[str] = frozenset()
) -> Sweep:
    """Write every run of ``sweep``: finished with ``result(spec)`` (metrics, groups, config), failed or left pending."""
    for spec in expand(sweep):
        if spec.name in pending:
            continue
        if spec.name in failed:
            fail(spec)
            continue
        made = result(spec)
        if made is not None:
            finish(spec, *made)
    return sweep


LABELS = {
    "model": {
        "cnn_lstm": "CNN-LSTM",
        "whisper_base": "Whisper base",
        "whisper_base_untrained": "Whisper base, untrained",
        "whisper_tiny_en": "Whisper tiny.en",
    }
}


def labelled_copy(name: str, folder: Path, **extra: Any) -> Path:
    """A shipped sweep file copied into ``folder`` with display names (``labels``), its output in ``folder/name``."""
    from ser_lightning.experiments.sweep import find_sweep

    raw = yaml.safe_load(find_sweep(name).read_text())
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**raw, "output": str(folder / name), "labels": LABELS, **extra}, sort_keys=False))
    return path


def real_urdu_like(output: Path, failed: set[str] = frozenset(), pending: set[str] = frozenset(), sweep_file: str | Path = "real_urdu") -> Sweep:
    """The ``real_urdu`` sweep (4 models x k = 0/5/20 x 3 seeds; shipped, or a copy) with the README's numbers, in ``output``."""
    sweep = load_sweep(sweep_file, output)

    def result(spec: RunSpec) -> tuple[dict, dict, dict]:
        model, k, seed = spec.point["model"], int(spec.point["shots"][1:]), int(spec.point["seed_everything"])
        source, targets, noisy_source, noisy_target = REAL[model]
        key = (model, k, seed)
        target = targets[(0, 5, 20).index(k)] + jitter(key, "target")
        src = {lang: source + jitter(key, lang, scale=0.05) for lang in ("en", "de", "it")}
        groups = {**src, "source": float(np.mean(list(src.values()))), "ur": target, "target": target}
        groups["all"] = (72 * groups["source"] + 120 * target) / 192
        noisy = {}
        if k == 0:
            for index, snr in enumerate(SNRS[1:], start=1):
                for group, curve in (("source", noisy_source), ("target", noisy_target)):
                    noisy[(group, snr)] = curve[index] + jitter(key, group, snr)
        metrics, per_group = run_metrics(groups, noisy, key)
        return metrics, per_group, run_config(model, ["ravdess", "emodb", "emovo"], ["urdu"], k, seed)

    return fabricate(sweep, result, failed, pending)


def real_crosslingual_like(output: Path, sweep_file: str | Path = "real_crosslingual") -> Sweep:
    """The ``real_crosslingual`` sweep (4 models x 4 held-out corpora x 5 seeds) with the README's numbers."""
    sweep = load_sweep(sweep_file, output)

    def result(spec: RunSpec) -> tuple[dict, dict, dict]:
        model, held_out, seed = spec.point["model"], spec.point["target"], int(spec.point["seed_everything"])
        target_ua, source_ua = CROSS[model][held_out]
        key = (model, held_out, seed)
        sources = [corpus for corpus in LANGUAGE if corpus != held_out]
        src = {LANGUAGE[c]: source_ua + jitter(key, c, scale=0.06) for c in sources}
        target = target_ua + jitter(key, "target", scale=0.02)
        groups = {**src, "source": float(np.mean(list(src.values()))), LANGUAGE[held_out]: target, "target": target}
        groups["all"] = (groups["source"] + target) / 2
        metrics, per_group = run_metrics(groups, {}, key)
        per_group[LANGUAGE[held_out]]["n"] = per_group["target"]["n"]
        return metrics, per_group, run_config(model, sources, [held_out], 0, seed)

    return fabricate(sweep, result)


def rows_of(sweep: Sweep) -> list[dict[str, Any]]:
    """The tidy rows of a sweep's finished runs."""
    done = [(spec.name, spec.point, RunFolder(spec.folder).results) for spec in expand(sweep) if RunFolder(spec.folder).state().state == "done"]
    return tidy_rows(load_records(done))


def write_claims(sweep: Sweep, claims: list[dict[str, Any]]) -> Path:
    path = Path(sweep.output) / "claims.json"
    path.write_text(json.dumps({"sweep": sweep.name, "alpha": 0.05, "claims": claims}, indent=1))
    return path


# demo_fewshot (README): URDU and source UA at k = 0, 5, 20; demo_pretrained: en, de, it, source, ur per model
DEMO_FEWSHOT = {0: (0.479, 0.620), 5: (0.450, 0.610), 20: (0.562, 0.597)}
DEMO_PRETRAINED = {
    "whisper_base": (0.674, 0.514, 0.576, 0.588, 0.432),
    "whisper_base_untrained": (0.590, 0.465, 0.528, 0.528, 0.417),
    "cnn_lstm": (0.694, 0.542, 0.660, 0.632, 0.479),
}


def _demo_run(model: str, languages: Mapping[str, float], target: float, k: int, seed: int) -> tuple[dict, dict, dict]:
    key = (model, k, seed)
    src = {lang: value + jitter(key, lang, scale=0.04) for lang, value in languages.items()}
    target = target + jitter(key, "target", scale=0.025)
    groups = {**src, "source": float(np.mean(list(src.values()))), "ur": target, "target": target}
    groups["all"] = (72 * groups["source"] + 120 * target) / 192
    metrics, per_group = run_metrics(groups, {}, key)
    return metrics, per_group, run_config(model, ["en", "de", "it"], ["ur"], k, seed)


def demo_fewshot_like(output: Path) -> Sweep:
    """The shipped ``demo_fewshot`` sweep (the CNN-LSTM, k = 0/5/20, 3 seeds; no model axis) with the README's numbers."""

    def result(spec: RunSpec) -> tuple[dict, dict, dict]:
        k, seed = int(spec.point["k"]), int(spec.point["seed_everything"])
        target, source = DEMO_FEWSHOT[k]
        return _demo_run("cnn_lstm", {"en": source + 0.06, "de": source - 0.08, "it": source + 0.02}, target, k, seed)

    return fabricate(load_sweep("demo_fewshot", output), result)


def demo_pretrained_like(output: Path) -> Sweep:
    """The shipped ``demo_pretrained`` sweep (Whisper base pre-trained and untrained, the CNN-LSTM; 3 seeds) with the README's numbers."""

    def result(spec: RunSpec) -> tuple[dict, dict, dict]:
        model, seed = spec.point["model"], int(spec.point["seed_everything"])
        en, de, it, _, ur = DEMO_PRETRAINED[model]
        return _demo_run(model, {"en": en, "de": de, "it": it}, ur, 0, seed)

    return fabricate(load_sweep("demo_pretrained", output), result)
