"""ONNX export of a recognizer: waveform in (front end included), calibrated class probabilities out.

Inputs ``waves`` float32 [batch, samples] at the model's sample rate (zero-padded) and ``lengths`` int64 [batch];
output ``probabilities`` float32 [batch, classes]. Batch and length are dynamic. The file is checked at once with
onnxruntime against the PyTorch model on two batches of other sizes and lengths than the one traced.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

TOLERANCE = 1e-4
# The length of the example the exporter traces (the graph stays dynamic in batch and length). Short on purpose: the
# exporter's LSTM decomposition walks every traced frame symbolically, about 50 s per traced second of a CNN-LSTM on 2
# CPU cores; at 0.6 s an export took 36 s here where 2 s took 106 s (the same model, one process, 2026-12-06).
TRACE_SECONDS = 0.6
ONNX_INPUTS = "inputs `waves` float32 [batch, samples] at 16 kHz (zero-padded) and `lengths` int64 [batch]; output `probabilities` [batch, classes]"


class ProbabilityGraph(nn.Module):
    """``recognizer.probabilities`` as a module of two tensor inputs, as the exporter traces it."""

    def __init__(self, recognizer: Any) -> None:
        super().__init__()
        self.recognizer = recognizer

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.recognizer.probabilities(waves, lengths)


def _example(batch: int, seconds: float, sample_rate: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    samples = int(seconds * sample_rate)
    waves = 0.1 * torch.randn(batch, samples, generator=generator)
    lengths = torch.full((batch,), samples, dtype=torch.long)
    lengths[-1] = samples * 3 // 4
    waves[-1, lengths[-1] :] = 0
    return waves, lengths


def onnx_probabilities(path: str | Path, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The probabilities onnxruntime computes with the file at ``path`` (CPU)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(["probabilities"], {"waves": waves.numpy(), "lengths": lengths.numpy()})
    return torch.from_numpy(out)


def require_onnx() -> None:
    """Raise, saying what to install, unless the ONNX exporter's packages and onnxruntime are importable."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"--onnx needs {', '.join(missing)}: pip install -e '.[onnx]' (or pip install {' '.join(missing)})")


def _forget_rnn_dispatch() -> None:
    """Clear the dispatch caches of ``aten.lstm``/``aten.gru``. The exporter swaps in a while-loop decomposition of
    these ops while it captures and restores the kernels after, but not the ops' dispatch caches (torch 2.14): a
    second export in the same process then unrolls the LSTM over the traced length and fixes ``samples`` to it
    (onnxruntime refuses any other length)."""
    for packet in (torch.ops.aten.lstm, torch.ops.aten.gru):
        for overload in ("input", "data"):
            cache = getattr(getattr(packet, overload, None), "_dispatch_cache", None)
            if isinstance(cache, dict):
                cache.clear()


def export_onnx(recognizer: Any, path: str | Path, sample_rate: int = 16000) -> Path:
    """Write ``recognizer`` (eval mode) to ``path`` and check it with onnxruntime within :data:`TOLERANCE`; raises otherwise."""
    require_onnx()
    path = Path(path)
    graph = ProbabilityGraph(recognizer.eval()).eval()
    waves, lengths = _example(2, TRACE_SECONDS, sample_rate, seed=0)
    batch, samples = torch.export.Dim("batch", min=1), torch.export.Dim("samples", min=sample_rate // 2)
    _forget_rnn_dispatch()
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            (waves, lengths),
            dynamo=True,
            input_names=["waves", "lengths"],
            output_names=["probabilities"],
            dynamic_shapes={"waves": {0: batch, 1: samples}, "lengths": {0: batch}},
        )
    _forget_rnn_dispatch()
    program.save(str(path))
    for check_batch, seconds, seed in ((3, 3.1, 1), (1, 1.3, 2)):
        check_waves, check_lengths = _example(check_batch, seconds, sample_rate, seed)
        with torch.no_grad():
            expected = graph(check_waves, check_lengths)
        got = onnx_probabilities(path, check_waves, check_lengths)
        error = float((got - expected).abs().max())
        if error > TOLERANCE:
            raise ValueError(
                f"{path}: onnxruntime's probabilities differ from PyTorch's by {error:.2e} (> {TOLERANCE:g}); the export is not faithful."
            )
    return path


INT8_OPS = ("MatMul", "LSTM")  # weights of these become int8; Conv stays float (ConvInteger is slower than a float Conv on CPUs)


def front_end_nodes(model: Any) -> list[str]:
    """Names of the nodes that compute the front end: everything the first ``Conv`` depends on (the STFT, mel filters,
    log, normalisation) and that Conv itself. Dynamic quantisation leaves them in float: the log-mel's dynamic range
    and the first layer's small kernels lose most to int8. Empty for a graph without a Conv."""
    producers = {output: node for node in model.graph.node for output in node.output}
    first = next((node for node in model.graph.node if node.op_type == "Conv"), None)
    if first is None:
        return []
    found, stack = {}, [first]
    while stack:
        node = stack.pop()
        if node.name in found:
            continue
        found[node.name] = node
        stack += [producers[name] for name in node.input if name in producers]
    return list(found)


def quantize_onnx(fp32_path: str | Path, int8_path: str | Path, sample_rate: int = 16000) -> Path:
    """Write an int8 copy of the ONNX file at ``fp32_path`` to ``int8_path`` with onnxruntime's dynamic quantisation:
    weights of MatMul (linear layers, attention projections) and LSTM in int8, activations quantised on the fly; the front
    end (:func:`front_end_nodes`), every Conv and MatMuls of two activations stay float. The copy is checked with
    onnxruntime on the two batches :func:`export_onnx` checks: it must run and give probabilities; how far they move is the
    caller's to measure (:func:`onnx_probabilities`), as int8 is not exact."""
    require_onnx()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    if int8_path.resolve() == fp32_path.resolve():
        raise ValueError(f"{int8_path}: the int8 model must go to another file than the float one it is made from.")
    with tempfile.TemporaryDirectory(dir=int8_path.parent) as folder:  # constants folded: the exporter computes LSTM weights in the graph
        folded = Path(folder) / "folded.onnx"
        quant_pre_process(str(fp32_path), str(folded), skip_symbolic_shape=True)
        model = onnx.load(str(folded))
    quantize_dynamic(
        model,
        int8_path,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(INT8_OPS),
        nodes_to_exclude=front_end_nodes(model),
        extra_options={"MatMulConstBOnly": True},
    )
    for check_batch, seconds, seed in ((3, 3.1, 1), (1, 1.3, 2)):
        waves, lengths = _example(check_batch, seconds, sample_rate, seed)
        probabilities = onnx_probabilities(int8_path, waves, lengths)
        if probabilities.shape != (check_batch, probabilities.shape[1]) or not torch.isfinite(probabilities).all():
            raise ValueError(f"{int8_path}: the int8 model gives no finite probabilities of shape [batch, classes]; keep the float model.")
    return int8_path


def compare_onnx(reference: str | Path, other: str | Path, recognizer: Any, sample_rate: int = 16000) -> tuple[tuple[int, int], float]:
    """How ``other`` agrees with ``reference`` on the export's check inputs: (same labels, inputs) and the largest
    probability difference."""
    same, total, largest = 0, 0, 0.0
    for check_batch, seconds, seed in ((3, 3.1, 1), (1, 1.3, 2), (4, 2.2, 3)):
        waves, lengths = _example(check_batch, seconds, sample_rate, seed)
        first, second = onnx_probabilities(reference, waves, lengths), onnx_probabilities(other, waves, lengths)
        same += int((first.argmax(-1) == second.argmax(-1)).sum())
        total += check_batch
        largest = max(largest, float((first - second).abs().max()))
    return (same, total), largest
