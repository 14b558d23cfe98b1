"""ONNX export of a recognizer: waveform in (front end included), calibrated class probabilities out.

Inputs ``waves`` float32 [batch, samples] at the model's sample rate (zero-padded) and ``lengths`` int64 [batch];
output ``probabilities`` float32 [batch, classes]. Batch and length are dynamic. The file is checked at once with
onnxruntime against the PyTorch model on two batches of other sizes and lengths than the one traced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

TOLERANCE = 1e-4


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


def export_onnx(recognizer: Any, path: str | Path, sample_rate: int = 16000) -> Path:
    """Write ``recognizer`` (eval mode) to ``path`` and check it with onnxruntime within :data:`TOLERANCE`; raises otherwise."""
    require_onnx()
    path = Path(path)
    graph = ProbabilityGraph(recognizer.eval()).eval()
    waves, lengths = _example(2, 2.0, sample_rate, seed=0)
    batch, samples = torch.export.Dim("batch", min=1), torch.export.Dim("samples", min=sample_rate // 2)
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            (waves, lengths),
            dynamo=True,
            input_names=["waves", "lengths"],
            output_names=["probabilities"],
            dynamic_shapes={"waves": {0: batch, 1: samples}, "lengths": {0: batch}},
        )
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
