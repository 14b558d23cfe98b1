"""Emotion per segment of long recordings: segments found by the VAD against fixed windows and against the true
(oracle) segments, for a CNN-LSTM fitted on the demo corpus (benchmarks/trained.py).

Long recordings are generated from the utterances of the speakers the model never saw (make_long_recordings: pauses
of 0.8-2.5 s, pink noise at each SNR asked for). Each path predicts through ``Trainer.predict`` with ``AudioFiles``:
``vad`` (Silero VAD, default settings, segments cut to the 8 s window), ``fixed 8 s`` (the default windows: 8 s every
4 s), ``fixed 2 s`` (2 s every 1 s, about one utterance), and ``oracle`` (the true segments). A true segment's label is
the overlap-weighted mean of the probabilities of the rows that overlap it (a fixed window holding two utterances
gives both the same mixture). Reported: the VAD's median start and end offsets from the true segments, segments
missed or found in silence, segment-level UA of every path, and the VAD's speed (seconds of audio per second).

    python benchmarks/long_recordings.py [--ckpt CKPT --folder DIR] [--snr 20 10] [--recordings 4] [--per-recording 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch  # noqa: E402
from lightning.pytorch import Trainer  # noqa: E402
from report import Figure, figure, markdown_table  # noqa: E402

from ser_lightning.data.audio_files import AudioFiles, Window  # noqa: E402
from ser_lightning.data.long_recordings import LongRecording, boundary_errors, make_long_recordings, segment_labels, unweighted_accuracy  # noqa: E402
from ser_lightning.models import EmotionRecognizer  # noqa: E402
from ser_lightning.predictions import prediction_rows  # noqa: E402

BOUNDARY_GOAL = 0.3  # seconds, median offset of a found segment's start and end


class OracleSegments(AudioFiles):
    """``AudioFiles`` whose segments are the true ones of generated recordings (no VAD)."""

    def __init__(self, recordings: Sequence[LongRecording], **options) -> None:
        super().__init__([r.path for r in recordings], segment="vad", **options)
        self.truth = {r.path: r.segments for r in recordings}

    def _speech_windows(self, paths: Sequence[str]) -> list[Window]:
        return [Window(path, int(s.start * 16000), int(s.end * 16000), 16000) for path in paths for s in self.truth[path]]


def predict_rows(model: EmotionRecognizer, data: AudioFiles) -> dict[str, list[tuple[float, float, list[float]]]]:
    """Rows (start, end, probabilities) per file, through ``Trainer.predict``."""
    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    rows: dict[str, list] = {}
    for path, start, end, probs in prediction_rows(trainer.predict(model, datamodule=data) or []):
        rows.setdefault(path, []).append((start, end, probs))
    return rows


def measure(checkpoint: str, held_out: list, folder: Path, snrs: Sequence[float], recordings: int, per_recording: int) -> list[dict]:
    """One result dict per SNR: boundary errors, segment UA per path, VAD speed."""
    model = EmotionRecognizer.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    names = list(model.label_names)
    results = []
    for snr in snrs:
        made = make_long_recordings(held_out, folder / f"snr{snr:g}", recordings=recordings, per_recording=per_recording, snr_db=snr, seed=0)
        truth = [s for r in made for s in r.segments]
        paths = {
            "vad": AudioFiles([r.path for r in made], segment="vad"),
            "fixed 8 s": AudioFiles([r.path for r in made], window_seconds=8.0, hop_seconds=4.0),
            "fixed 2 s": AudioFiles([r.path for r in made], window_seconds=2.0, hop_seconds=1.0),
            "oracle": OracleSegments(made),
        }
        vad = paths["vad"]
        vad.setup("predict")
        start = time.perf_counter()
        vad.predict_dataloader()  # runs the VAD
        vad_seconds = time.perf_counter() - start
        found = {r.path: [(w.start / w.file_rate, w.stop / w.file_rate) for w in vad.dataset.windows if w.path == r.path] for r in made}
        errors = sum((boundary_errors(r.segments, found[r.path]) for r in made[1:]), boundary_errors(made[0].segments, found[made[0].path]))
        ua = {}
        for name, data in paths.items():
            rows = predict_rows(model, data)
            labels = [label for r in made for label in segment_labels(r.segments, rows.get(r.path, []), names)]
            ua[name] = unweighted_accuracy([s.label for s in truth], labels)
        audio = sum(r.duration for r in made)
        results.append(
            {
                "snr": snr,
                "segments": len(truth),
                "audio": audio,
                "median_start": errors.median_start,
                "median_end": errors.median_end,
                "early_start": sum(x < 0 for x in errors.start_offsets) / max(1, len(errors.start_offsets)),
                "late_end": sum(x > 0 for x in errors.end_offsets) / max(1, len(errors.end_offsets)),
                "missed": errors.missed,
                "extra": errors.extra,
                "found": errors.found,
                "ua": ua,
                "vad_speed": audio / vad_seconds,
            }
        )
    return results


def as_figures(results: list[dict], detail: str) -> list[Figure]:
    figures: list[Figure] = []
    for r in results:
        tag = f"long recordings ({r['snr']:g} dB)"
        where = f"{r['segments']} true segments in {r['audio'] / 60:.1f} min of audio; {detail}"
        for side in ("start", "end"):
            value = r[f"median_{side}"]
            figures.append(
                figure(
                    f"{tag}: VAD median {side} offset",
                    value,
                    "s",
                    f"<= {BOUNDARY_GOAL} s",
                    value <= BOUNDARY_GOAL,
                    f"|found - true| {side} of the found segment overlapping each true one most ({r['early_start']:.0%} start early, "
                    f"{r['late_end']:.0%} end late); {r['found']} found, {r['missed']} missed, {r['extra']} in silence; {where}",
                )
            )
        for name, value in r["ua"].items():
            figures.append(figure(f"{tag}: segment UA, {name}", value, "UA", detail=f"true segments labelled by overlapping rows; {where}"))
        figures.append(figure(f"{tag}: VAD speed", r["vad_speed"], "x real time", detail=f"Silero VAD (sequence ONNX model), 1 process; {where}"))
    return figures


def figures(quick: bool = False) -> list[Figure]:
    """The suite's item: fit a CNN-LSTM on a demo corpus here (quick: 1 epoch, small recordings), then measure."""
    from trained import fit_demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        epochs, spec, recordings, per = (1, {"speakers_per_language": 3, "sentences_per_language": 2}, 1, 8) if quick else (6, None, 4, 30)
        trained = fit_demo(folder / "fit", "cnnlstm", epochs=epochs, spec=spec)
        results = measure(trained.checkpoint, trained.held_out, folder / "recordings", [20.0] if quick else [20.0, 10.0], recordings, per)
    return as_figures(results, f"CNN-LSTM fitted {epochs} epoch(s) on the demo corpus, recordings of its held-out speakers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the CNN-LSTM fitted first")
    parser.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0], help="background noise levels (dB below the speech)")
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--per-recording", type=int, default=30, help="utterances per recording")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folder", type=Path, help="keep the corpus, model and recordings here (default: a temporary folder)")
    parser.add_argument("--run", nargs=3, metavar=("CONFIG_YAML", "CKPT", "WORKDIR"), help="use this earlier CNN-LSTM fit instead of a new one")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from trained import fit_demo, from_run

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        if args.run:
            trained = from_run(Path(args.run[0]), args.run[1], Path(args.run[2]))
            which = f"CNN-LSTM {Path(args.run[1]).name} of an earlier fit"
        else:
            trained = fit_demo(folder / "fit", "cnnlstm", epochs=args.epochs)
            which = f"CNN-LSTM fitted {args.epochs} epochs on the demo corpus"
        results = measure(trained.checkpoint, trained.held_out, folder / "recordings", args.snr, args.recordings, args.per_recording)
    print(markdown_table(as_figures(results, f"{which}, recordings of its held-out speakers")))


if __name__ == "__main__":
    main()
