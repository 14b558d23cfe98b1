"""Parse-and-probe speed of a corpus folder: a generated IEMOCAP-layout tree of 10,000 short utterances.

Writes 5 sessions x 20 dialogues x 100 utterances (0.1 s of noise each, 16 kHz, whole-dialogue WAVs and
annotator lines included) to a temporary folder, then times, in files per second:

- parse: reading the label files and listing the tree (no audio header read);
- cold load: parse + every header read + the probe cache written (a first load);
- cached load: parse + one stat per file against the probe cache (every later load of an unchanged tree);
- header reads alone, per file: soundfile.info and the RIFF reader that ``probe`` uses for WAV.

The goal is 2,000 files/s for a load. The tree is freshly written, so the OS page cache is warm in
both loads: the cold figure excludes disk seeks of a first read from a spinning disk or network share.

    python benchmarks/parse_speed.py [--files 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_lightning.data import IEMOCAP
from ser_lightning.data.audio import wav_header

GOAL = 2000.0


def write_tree(root: Path, files: int) -> int:
    """An IEMOCAP-layout tree with ``files`` utterances (rounded down to whole dialogues of 100)."""
    buffer = io.BytesIO()
    sf.write(buffer, (0.1 * np.random.default_rng(0).standard_normal(1600)).astype(np.float32), 16000, subtype="PCM_16", format="WAV")
    audio = buffer.getvalue()  # one 0.1 s WAV, written as bytes (sf.write per file took most of the set-up)
    dialogues = max(1, files // 100)
    written = 0
    for d in range(dialogues):
        session = root / f"Session{d % 5 + 1}"
        dialog = f"Ses0{d % 5 + 1}F_impro{d // 5:02d}"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"]
        folder = session / "sentences" / "wav" / dialog
        folder.mkdir(parents=True, exist_ok=True)
        for u in range(100):
            utterance = f"{dialog}_{'FM'[u % 2]}{u:03d}"
            lines.append(f"[{u:.4f} - {u + 0.1:.4f}]\t{utterance}\t{('neu', 'ang', 'exc', 'sad', 'fru')[u % 5]}\t[2.5000, 2.5000, 2.5000]\n")
            lines.append("C-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n")
            (folder / f"{utterance}.wav").write_bytes(audio)
            written += 1
        evaluation = session / "dialog" / "EmoEvaluation"
        evaluation.mkdir(parents=True, exist_ok=True)
        (evaluation / f"{dialog}.txt").write_text("".join(lines))
        (session / "dialog" / "wav").mkdir(parents=True, exist_ok=True)
        (session / "dialog" / "wav" / f"{dialog}.wav").write_bytes(audio)
    return written


def best_of(repeats: int, run) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "IEMOCAP_full_release"
        start = time.perf_counter()
        n = write_tree(root, args.files)
        print(f"wrote {n} utterances in {time.perf_counter() - start:.1f} s under {root}")
        corpus = IEMOCAP(str(root))
        paths = [u.path for u in corpus.parse()]

        def cold() -> None:
            os.environ["SER_LIGHTNING_CACHE"] = tempfile.mkdtemp(dir=tmp)  # an empty probe cache every time
            corpus.load()

        results = {"parse": best_of(args.repeats, corpus.parse), "cold load": best_of(args.repeats, cold)}
        os.environ["SER_LIGHTNING_CACHE"] = str(Path(tmp) / "cache")
        corpus.load()
        results["cached load"] = best_of(args.repeats, corpus.load)
        results["soundfile.info"] = best_of(args.repeats, lambda: [sf.info(p) for p in paths])
        results["RIFF header"] = best_of(args.repeats, lambda: [wav_header(p) for p in paths])
        print(f"{'step':<16} {'seconds':>8} {'files/s':>9}   goal {GOAL:,.0f} files/s for a load")
        for step, seconds in results.items():
            verdict = ("meets goal" if n / seconds >= GOAL else "BELOW GOAL") if "load" in step else ""
            print(f"{step:<16} {seconds:>8.2f} {n / seconds:>9,.0f}   {verdict}")


if __name__ == "__main__":
    main()
