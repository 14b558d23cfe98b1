"""Writing the demo corpus: each language spoken in a forked worker, warped, levelled over a noise floor, saved as WAV."""

from __future__ import annotations

import json
import multiprocessing
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ser_lightning.data.audio import resample
from ser_lightning.data.manifest import Utterance, write_manifest
from ser_lightning.fileio import write_bytes_atomic, write_text_atomic

from .design import (
    _FLOOR_LOW_CUT_HZ,
    _JITTER_SD,
    _PROSODY_HIGH,
    _PROSODY_LOW,
    _UTTERANCE_STREAM,
    _WARP_STEP_HZ,
    CORPUS_NAME,
    EMOTIONS,
    LANGUAGES,
    SENTENCES,
    Speaker,
    SynthesisSpec,
    _rng,
    emotion_profile,
    speaker_plan,
)
from .espeak import _Job, _speak


def _warped(samples: np.ndarray, native_rate: int, warp: float, sample_rate: int) -> np.ndarray:
    """float64 audio at ``sample_rate``, formants and pitch scaled by ``warp`` (read as if recorded faster)."""
    source_rate = int(round(native_rate * warp / _WARP_STEP_HZ)) * _WARP_STEP_HZ
    waveform = torch.from_numpy(samples.astype(np.float32) / 32768.0)
    return resample(waveform, source_rate, sample_rate).numpy().astype(np.float64)


def _noise_floor(length: int, tilt: float, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Gaussian noise of unit RMS whose power spectrum falls as 1/f**tilt (flat below 50 Hz, no DC).

    Drawn in the frequency domain (independent Gaussian real and imaginary parts, i.e. the spectrum of
    white Gaussian noise) at a length with only small prime factors, so one inverse FFT is fast.
    """
    size = _fast_length(length)
    bins = size // 2 + 1
    spectrum = (rng.standard_normal(bins) + 1j * rng.standard_normal(bins)) * _floor_shape(size, tilt, sample_rate)
    noise = np.fft.irfft(spectrum, size)[:length]
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


@lru_cache(maxsize=256)
def _floor_shape(size: int, tilt: float, sample_rate: int) -> np.ndarray:
    """Amplitude of each rFFT bin for a 1/f**tilt power spectrum, flat below 50 Hz, with DC removed."""
    shape = np.maximum(np.fft.rfftfreq(size, 1.0 / sample_rate), _FLOOR_LOW_CUT_HZ) ** (-tilt / 2.0)
    shape[0] = 0.0
    return shape


def _fast_length(n: int) -> int:
    """The smallest number >= n whose prime factors are all 2, 3 or 5 (the FFT's fast sizes)."""
    best = 1 << max(n - 1, 1).bit_length()
    five = 1
    while five < best:
        three = five
        while three < best:
            two = three
            while two < n:
                two *= 2
            best = min(best, two)
            three *= 3
        five *= 5
    return best


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    write_bytes_atomic(path, lambda handle: sf.write(handle, samples, sample_rate, format="WAV", subtype="PCM_16"))


def _record_speaker(speaker: Speaker, jobs: list[_Job], sample_rate: int) -> list[int]:
    """Speak, warp and level one speaker's jobs, add its noise floor, write the WAVs; returns their lengths.

    The gain puts the speaker's mean speech power (over all its utterances, so emotions keep their
    loudness differences) at ``level_dbfs``; the floor is fixed for the speaker, as in one session.
    """
    takes = []
    for job in jobs:
        samples, native_rate = _speak(job)
        takes.append(_warped(samples, native_rate, speaker.warp, sample_rate))
    gain = 10.0 ** (speaker.level_dbfs / 20.0) / np.sqrt(np.mean([np.mean(take**2) for take in takes]))
    for job, take in zip(jobs, takes):
        audio = gain * take
        if speaker.floor_db is not None:
            floor_rms = 10.0 ** ((speaker.level_dbfs - speaker.floor_db) / 20.0)
            audio = audio + floor_rms * _noise_floor(len(audio), speaker.floor_tilt, np.random.default_rng(job.floor_seed), sample_rate)
        _write_wav(Path(job.path), _to_int16(audio), sample_rate)
    return [len(take) for take in takes]


def _plan_language(spec: SynthesisSpec, language: str, out_dir: Path) -> list[tuple[Speaker, list[tuple[Utterance, _Job]]]]:
    """Every speaker of one language with its utterances (duration still unknown) and the jobs that speak them."""
    index = LANGUAGES.index(language)
    profiles = [np.array(emotion_profile(language, emotion, spec)) for emotion in EMOTIONS]
    plan = []
    speakers = [speaker for speaker in speaker_plan(spec) if speaker.language == language]
    for s, speaker in enumerate(speakers):
        voice = f"{language}+{speaker.variant}"
        utterances = []
        for e, emotion in enumerate(EMOTIONS):
            for n, text in enumerate(SENTENCES[language][: spec.sentences_per_language]):
                rng = _rng(spec.seed, index, _UTTERANCE_STREAM, s, e, n)
                prosody = profiles[e] + np.array([0.0, speaker.pitch_offset, 0.0, 0.0]) + rng.normal(0.0, _JITTER_SD)
                prosody[0] /= speaker.warp  # the warp speeds speech up by `warp`: speak slower to keep the rate
                rate, pitch, pitch_range, volume = (int(x) for x in np.clip(np.round(prosody), _PROSODY_LOW, _PROSODY_HIGH))
                engine_seed, floor_seed = (int(x) for x in rng.integers(2**31, size=2))
                sentence = f"s{n + 1:02d}"
                path = str(out_dir / language / speaker.name / f"{speaker.name}_{emotion}_{sentence}.wav")
                utterance = Utterance(
                    path=path,
                    label=emotion,
                    speaker=speaker.name,
                    language=language,
                    corpus=CORPUS_NAME,
                    sample_rate=spec.sample_rate,
                    extra={"sentence": sentence, "gender": speaker.gender, "voice": voice},
                )
                utterances.append((utterance, _Job(text, voice, (rate, pitch, pitch_range, volume), engine_seed, floor_seed, path)))
        plan.append((speaker, utterances))
    return plan


def _synthesize_language(speakers: list[tuple[Speaker, list[_Job]]], sample_rate: int) -> list[int]:
    """Worker: record one language's speakers; returns every utterance's length in samples, in order."""
    torch.set_num_threads(1)  # one core per worker, and no OpenMP pool carried over from the forking parent
    return [length for speaker, jobs in speakers for length in _record_speaker(speaker, jobs, sample_rate)]


def synthesize_corpus(out_dir: str | Path, spec: SynthesisSpec = SynthesisSpec()) -> list[Utterance]:
    """Write WAVs + manifest.jsonl + synthesis.json under out_dir; return the utterances.

    Files go to ``out_dir/<language>/<speaker>/<speaker>_<emotion>_s<NN>.wav``. The manifest is
    removed first and written last, so an interrupted run leaves no manifest behind.
    """
    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.jsonl"
    manifest.unlink(missing_ok=True)
    plans = [_plan_language(spec, language, out_dir) for language in spec.languages]
    utterances = []
    workers = min(len(plans), os.cpu_count() or 1)
    # One fresh process, hence one fresh espeak engine, per language: see the module docstring.
    with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=1) as pool:
        tasks = [([(speaker, [job for _, job in items]) for speaker, items in plan], spec.sample_rate) for plan in plans]
        for plan, lengths in zip(plans, pool.starmap(_synthesize_language, tasks)):
            spoken = [utterance for _, items in plan for utterance, _ in items]
            utterances += [utterance.with_(duration=n / spec.sample_rate) for utterance, n in zip(spoken, lengths)]
    write_text_atomic(out_dir / "synthesis.json", json.dumps(spec.to_dict(), indent=2) + "\n")
    write_manifest(utterances, manifest)
    return utterances
