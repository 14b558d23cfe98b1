"""Memory: a DataModule's resident memory grows with its manifest, not with the audio it points at.

Manifests of two sizes (5,000 and 20,000 records) point at real WAVs: ten files with IEMOCAP-like
lengths (16 kHz, 16-bit), each hard-linked under many names, so every record has its own path and
header (the header probe reads every one) without 20,000 files' worth of disk. Each size runs in a
fresh subprocess (this module run as a script): ``SERDataModule`` set up for fit (manifest parsed,
every header probed, probe cache written, speaker split, datasets), then a fixed number of training
batches loaded. Reported: the peak-RSS growth per extra manifest record against the audio's bytes per
record, and the memory still held per utterance loaded (batches dropped as they go; after the first
fifth of the batches, so first-use costs are left out) against its decoded wave: a DataModule that
kept waveforms would hold about one decoded wave each.

    python benchmarks/memory.py MANIFEST BATCHES THREADS      # the subprocess: prints one JSON line
"""

from __future__ import annotations

import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from corpus import write_manifest, write_wavs
from padding import CORPORA, durations
from report import Figure, NotMeasured, figure

GOAL = 0.05  # of the audio's bytes per record: a kept waveform would be 100% or more
BATCH = 16
BASE_FILES = 10


def rss() -> int:
    """Resident bytes now, after handing freed heap memory back to the OS (glibc's cache of freed blocks is not held data)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Peak resident bytes of this process so far: VmHWM (``ru_maxrss`` is kept across exec, so a child started by a
    bigger parent would report the parent's peak)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))


def child(manifest: str, batches: int, threads: int) -> None:
    """Set up a DataModule over ``manifest``, load ``batches`` training batches, print the RSS figures as JSON."""
    import torch
    from corpus import datamodule

    torch.set_num_threads(threads)
    before = rss()
    dm = datamodule(Path(manifest), BATCH)
    dm.setup("fit")
    after_setup, peak_setup = rss(), peak_rss()
    number, loaded, marks = 0, 0, []  # (utterances loaded, RSS) after the first fifth of the batches and after all
    for number, batch in zip(range(1, batches + 1), dm.train_dataloader()):
        loaded += len(batch["labels"])
        if number in (max(1, batches // 5), batches):
            del batch
            marks.append((loaded, rss()))
    if len(marks) < 2:
        raise SystemExit(f"only {loaded} utterances in {number} batches: fewer batches than the {batches} asked for")
    held = (marks[-1][1] - marks[0][1]) / max(1, marks[-1][0] - marks[0][0])
    print(
        json.dumps(
            {"before": before, "after_setup": after_setup, "peak_setup": peak_setup, "held_per_utterance": held, "peak": peak_rss(), "loaded": loaded}
        )
    )


def measure(manifest: Path, batches: int) -> dict[str, int]:
    """The child's figures for ``manifest``; :class:`NotMeasured` with the child's own last words when it fails."""
    threads = os.environ.get("BENCH_THREADS", "1")
    done = subprocess.run([sys.executable, __file__, str(manifest), str(batches), threads], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()), "no message (killed for memory?)")
        how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else f"exited with status {done.returncode}"
        raise NotMeasured(f"the child process for {manifest.parent.name} ({batches} batches) {how}: {last}")
    return json.loads(lines[-1])


def figures(quick: bool = False) -> list[Figure]:
    sizes, batches = ((500, 2000), 5) if quick else ((5000, 20000), 50)
    spec = CORPORA["iemocap (4-class)"]
    with tempfile.TemporaryDirectory() as tmp:
        base = write_wavs(Path(tmp) / "base", durations(BASE_FILES, *spec[1:], seed=0), [16000])
        file_bytes = statistics.fmean(path.stat().st_size for path in base)
        decoded_bytes = statistics.fmean(4 * (path.stat().st_size - 44) / 2 for path in base)  # float32 samples of 16-bit PCM
        results = {}
        for size in sizes:
            folder = Path(tmp) / f"links{size}"
            folder.mkdir()
            links = []
            for i in range(size):
                link = folder / f"utt{i:06d}.wav"
                os.link(base[i % BASE_FILES], link)
                links.append(link)
            results[size] = measure(write_manifest(links, folder / "manifest.jsonl"), batches)
    small, large = (results[size] for size in sizes)
    per_record = (large["peak_setup"] - small["peak_setup"]) / (sizes[1] - sizes[0])
    held = statistics.fmean(r["held_per_utterance"] for r in results.values())
    mb = 2**20
    peaks = ", ".join(
        f"{size:,} records: {r['before'] / mb:.0f} MiB after imports, peak {r['peak_setup'] / mb:.0f} MiB after "
        f"setup, {r['peak'] / mb:.0f} MiB after loading"
        for size, r in results.items()
    )
    audio = (
        f"{sizes[1]:,} records point at {sizes[1] * file_bytes / 2**30:.2f} GiB of WAVs ({file_bytes / 1024:.0f} "
        f"KiB per file on average, {decoded_bytes / 1024:.0f} KiB decoded)"
    )
    return [
        figure(
            "memory: peak RSS per manifest record",
            per_record,
            "B/record",
            f"< {GOAL:.0%} of the audio's bytes per record ({GOAL * file_bytes:,.0f} B)",
            per_record < GOAL * file_bytes,
            f"(peak RSS after setup with {sizes[1]:,} records - with {sizes[0]:,}) / {sizes[1] - sizes[0]:,}: "
            f"{per_record / file_bytes:.2%} of a file; "
            f"{audio}; each size in its own subprocess; {peaks}",
        ),
        figure(
            "memory: RSS held per utterance loaded",
            held,
            "B/utt",
            f"< {GOAL:.0%} of a decoded wave ({GOAL * decoded_bytes:,.0f} B)",
            held < GOAL * decoded_bytes,
            f"RSS after loading {batches} training batches of {BATCH} (0 workers, each dropped; freed heap trimmed "
            f"before each reading) minus RSS after the first {max(1, batches // 5)} "
            f"(first-use costs), per utterance loaded in between, mean of both sizes: {held / decoded_bytes:.2%} of a decoded wave; {audio}",
        ),
    ]


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
