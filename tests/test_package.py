"""The package as users get it: a wheel installed outside the source tree, `--help` that explains options, no speech engine needed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


PROJECT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path, env: dict | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_wheel_installed_outside_the_source_tree_finds_its_shipped_configs(tmp_path):
    dist, source = tmp_path / "dist", tmp_path / "source"
    # build from a copy of the tracked files: setuptools writes build/ and *.egg-info/ beside the sources it builds
    tracked = run("git", "ls-files", "-z", cwd=PROJECT).split("\0")
    for name in filter(None, tracked):
        if (PROJECT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, source / name, follow_symlinks=False)
    run(sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), cwd=tmp_path)
    wheel = next(dist.glob("ser_lightning-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    run(str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel), cwd=tmp_path)
    # The dependencies (torch, lightning, ...) come from this environment rather than a second 5 GB download;
    # a .pth line adds its site-packages after the new venv's own, so ser_lightning itself is the wheel's copy.
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run(str(python), "-c", "import ser_lightning; print(ser_lightning.__file__)", cwd=empty, env=env)
    assert where.startswith(str(site)), where
    for name, backbone in (("demo.yaml", "ser_lightning.models.CNNLSTM"), ("xlsr_fewshot.yaml", "ser_lightning.models.HFBackbone")):
        out = run(str(python), "-m", "ser_lightning", "fit", "--config", name, "--print_config", cwd=empty, env=env)
        assert yaml.safe_load(out)["model"]["backbone"]["class_path"] == backbone
    assert not any(empty.iterdir())  # printing a config writes nothing


def help_text(*args: str, capsys: pytest.CaptureFixture | None = None) -> str:
    """``fit`` help with whitespace collapsed and reST literals unquoted: from ``python -m ser_lightning``, or printed in
    this process where ``capsys`` is given (a subprocess spends ~12 s importing)."""
    if capsys is None:
        out = run(sys.executable, "-m", "ser_lightning", "fit", *args, cwd=PROJECT)
    else:
        from ser_lightning.cli import main

        with pytest.raises(SystemExit):
            main(["fit", *args])
        out = capsys.readouterr().out
    return " ".join(out.replace("``", "").split())


def test_fit_help_explains_the_key_options_in_words(capsys):
    model = help_text("--help")
    for text in (
        "--model.lr_backbone LR_BACKBONE peak learning rate of the backbone's trainable parameters",
        "--model.warmup WARMUP linear warm-up before cosine decay: a fraction of all training steps when below 1",
        "--model.head_hidden HEAD_HIDDEN width of the hidden layer of the classifier",
        "--model.group_by+ [ITEM,...] batch metadata keys whose values get their own test metrics",
        "--test_after_fit {true,false} Test the best checkpoint when fit ends",
        "--feature_cache.enabled {true,false} turn the cache on",
    ):
        assert text in model, text
    data = help_text("--data.help", "ser_lightning.data.CrossLingualDataModule", capsys=capsys)
    for text in (
        "--data.targets+ [ITEM,...] corpora (or languages) never trained on",
        "--data.val_speakers VAL_SPEAKERS speakers held out for validation in each language of each corpus",
        "--data.test_snrs TEST_SNRS, --data.test_snrs+ TEST_SNRS test once per entry: null is the clean set, a number adds noise at that SNR in dB",
        "--data.shots_per_class SHOTS_PER_CLASS k labelled target utterances per class",
        "--data.sample_rate SAMPLE_RATE rate in Hz that every file is resampled to",
    ):
        assert text in data, text
    backbone = help_text("--model.backbone.help", "HFBackbone", capsys=capsys)
    for text in (
        "--model.backbone.finetune {full,encoder,top_layers,frozen,lora} which weights train",
        "--model.backbone.normalize {true,false,null} scale each utterance to zero mean and unit variance",
        "--model.backbone.name_or_path NAME_OR_PATH a hub name",
    ):
        assert text in backbone, text
    whisper = help_text("--model.backbone.help", "WhisperBackbone", capsys=capsys)
    assert (
        "--model.backbone.window_seconds WINDOW_SECONDS the input window in seconds. 30 (default) is the window Whisper was pre-trained on" in whisper
    )


NO_ENGINE = """
import sys
sys.modules["espeakng_loader"] = None  # importing it now raises ImportError, as when the demo extra is not installed
import json, numpy as np, soundfile as sf, lightning as L
from pathlib import Path
import ser_lightning.data
from ser_lightning.data import CrossLingualDataModule, ManifestCorpus
from ser_lightning.models import CNNLSTM, EmotionRecognizer

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
with open(root / "manifest.jsonl", "w") as manifest:
    for language in ("en", "de"):
        for speaker in range(3):
            for i, label in enumerate(["angry", "happy", "neutral", "sad"] * 2):
                path = root / f"{language}{speaker}_{i}.wav"
                sf.write(path, (rng.standard_normal(8000) * (0.05 + 0.05 * i % 4)).astype("float32"), 16000)
                record = {"path": path.name, "label": label, "speaker": f"{language}{speaker}", "language": language, "corpus": "mine"}
                manifest.write(json.dumps(record) + "\\n")
data = CrossLingualDataModule([ManifestCorpus(str(root), languages=["en"])], [ManifestCorpus(str(root), languages=["de"])], batch_size=4)
model = EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, head_hidden=0)
trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model, datamodule=data)
trainer.test(model, datamodule=data, verbose=False)
assert "espeakng_loader" not in [m for m in sys.modules if sys.modules[m] is not None]
print("trained", trainer.global_step, "steps; target N", int(model.test_results["target"]["n"]))
"""


def test_training_on_a_manifest_corpus_never_needs_the_speech_engine(tmp_path):
    out = run(sys.executable, "-c", NO_ENGINE, str(tmp_path), cwd=tmp_path)
    assert "trained 2 steps; target N 24" in out


def test_synthesising_without_the_speech_engine_says_how_to_install_it(tmp_path):
    code = "import sys; sys.modules['espeakng_loader'] = None\nfrom ser_lightning.data.demo import synthesize_corpus\nsynthesize_corpus(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], capture_output=True, text=True)
    assert result.returncode != 0 and "pip install 'ser_lightning[demo]'" in result.stderr
