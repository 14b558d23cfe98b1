"""A small synthetic multilingual emotional speech corpus, spoken by the embedded espeak-ng engine.

Real emotional speech corpora are licensed, so the demo and the tests use this one instead. Every
(language x speaker x emotion x sentence) combination is spoken by espeak-ng (``espeakng_loader``'s
library, driven through ``ctypes``) and written as a 16-bit mono WAV plus a JSONL manifest.

Emotions are prosody profiles: (rate in words/min, pitch 0-99, pitch range 0-99, volume 0-200).
Each speaker is an espeak voice variant with its own pitch offset, and every utterance adds Gaussian
jitter, so the task is learnable but not trivial. The profile of emotion ``e`` in language ``l`` is

    BASE[e] + shift * (G[l] + R[l][e]) + remap * W[l][e]

``G`` is a small per-language baseline and ``R`` a seeded per-language, per-emotion perturbation:
without them a model trained on one language transfers perfectly to the others, and cross-lingual
experiments show nothing. ``W`` is non-zero for Urdu only and exchanges cues between emotion pairs
(angry and happy swap part of their rate and volume, as do neutral and sad). At ``remap=1`` zero-shot
Urdu is at chance; the default 0.6 leaves a clear cross-language gap that a few Urdu examples close.

espeak-ng keeps state between utterances that no API call resets (pitch-flutter phase, gain control),
so the same text spoken twice in one process comes out different. Each language is therefore spoken
in its own freshly forked worker process, which never initialised espeak before, so the audio is a
function of the spec alone: the same spec gives byte-identical files, and adding a language leaves
the other languages' audio unchanged. Workers are forked (POSIX only), not spawned: spawning would
re-import the package and its training stack in every worker and require an
``if __name__ == "__main__":`` guard in every script that builds a corpus.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
import torch

from ser_lightning.data.audio import resample
from ser_lightning.data.manifest import Utterance, write_manifest

EMOTIONS: tuple[str, ...] = ("angry", "happy", "neutral", "sad")
LANGUAGES: tuple[str, ...] = ("en", "de", "it", "ur")  # English, German, Italian, Urdu
CORPUS_NAME = "synthetic"

# Emotionally neutral everyday sentences, the same meaning in every language (Urdu in Urdu script).
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The train leaves at nine in the morning.",
        "The book is on the kitchen table.",
        "We will meet again next week.",
        "The shop closes at six o'clock.",
        "I bought bread and milk this morning.",
        "The meeting is on the second floor.",
        "She walks to work every day.",
        "The letter arrived yesterday afternoon.",
        "Please put the keys in the drawer.",
        "The window in the living room is open.",
        "He reads the newspaper after dinner.",
        "The bus stops in front of the school.",
        "My brother lives in a small town.",
        "The chairs are in the other room.",
        "Tomorrow we will plant flowers in the garden.",
    ),
    "de": (
        "Der Zug fährt um neun Uhr morgens ab.",
        "Das Buch liegt auf dem Küchentisch.",
        "Wir treffen uns nächste Woche wieder.",
        "Der Laden schließt um sechs Uhr.",
        "Ich habe heute Morgen Brot und Milch gekauft.",
        "Die Besprechung ist im zweiten Stock.",
        "Sie geht jeden Tag zu Fuß zur Arbeit.",
        "Der Brief kam gestern Nachmittag an.",
        "Bitte leg die Schlüssel in die Schublade.",
        "Das Fenster im Wohnzimmer ist offen.",
        "Er liest die Zeitung nach dem Abendessen.",
        "Der Bus hält vor der Schule.",
        "Mein Bruder wohnt in einer kleinen Stadt.",
        "Die Stühle sind im anderen Zimmer.",
        "Morgen pflanzen wir Blumen im Garten.",
    ),
    "it": (
        "Il treno parte alle nove di mattina.",
        "Il libro è sul tavolo della cucina.",
        "Ci vediamo di nuovo la settimana prossima.",
        "Il negozio chiude alle sei.",
        "Stamattina ho comprato pane e latte.",
        "La riunione è al secondo piano.",
        "Lei va al lavoro a piedi ogni giorno.",
        "La lettera è arrivata ieri pomeriggio.",
        "Per favore, metti le chiavi nel cassetto.",
        "La finestra del soggiorno è aperta.",
        "Lui legge il giornale dopo cena.",
        "L'autobus si ferma davanti alla scuola.",
        "Mio fratello abita in una piccola città.",
        "Le sedie sono nell'altra stanza.",
        "Domani piantiamo dei fiori in giardino.",
    ),
    "ur": (
        "ٹرین صبح نو بجے روانہ ہوتی ہے۔",
        "کتاب باورچی خانے کی میز پر ہے۔",
        "ہم اگلے ہفتے دوبارہ ملیں گے۔",
        "دکان چھ بجے بند ہوتی ہے۔",
        "میں نے آج صبح روٹی اور دودھ خریدا۔",
        "میٹنگ دوسری منزل پر ہے۔",
        "وہ روزانہ پیدل کام پر جاتی ہے۔",
        "خط کل سہ پہر پہنچا۔",
        "براہ کرم چابیاں دراز میں رکھ دیں۔",
        "بیٹھک کی کھڑکی کھلی ہے۔",
        "وہ رات کے کھانے کے بعد اخبار پڑھتا ہے۔",
        "بس اسکول کے سامنے رکتی ہے۔",
        "میرا بھائی ایک چھوٹے شہر میں رہتا ہے۔",
        "کرسیاں دوسرے کمرے میں ہیں۔",
        "کل ہم باغ میں پھول لگائیں گے۔",
    ),
}
_SHIPPED_SENTENCES = min(len(texts) for texts in SENTENCES.values())

# Prosody vectors are (rate, pitch, range, volume) throughout.
_BASE = {
    "angry": np.array([210.0, 60.0, 80.0, 170.0]),
    "happy": np.array([190.0, 75.0, 95.0, 130.0]),
    "neutral": np.array([160.0, 45.0, 35.0, 100.0]),
    "sad": np.array([120.0, 30.0, 20.0, 70.0]),
}
_LANGUAGE_BASELINE = {
    "en": np.array([0.0, 0.0, 0.0, 0.0]),
    "de": np.array([-10.0, -4.0, -5.0, 5.0]),
    "it": np.array([15.0, 5.0, 20.0, 10.0]),
    "ur": np.array([-15.0, 0.0, 0.0, 0.0]),
}
_SHIFT_SCALE = 0.25 * np.array([30.0, 12.0, 20.0, 30.0])
_CUE_EXCHANGE = {
    "ur": {
        "angry": np.array([-20.0, 0.0, 0.0, -40.0]),
        "happy": np.array([20.0, 0.0, 0.0, 40.0]),
        "neutral": np.array([-40.0, 0.0, 0.0, -30.0]),
        "sad": np.array([40.0, 0.0, 0.0, 30.0]),
    }
}
_JITTER_SD = np.array([20.0, 10.0, 15.0, 20.0])
_SPEAKER_PITCH_SD = 8.0
_PROSODY_LOW = np.array([80, 0, 0, 0])
_PROSODY_HIGH = np.array([450, 99, 99, 200])
_VOICE_VARIANTS = {"f": ("f1", "f2", "f3", "f4", "f5"), "m": ("m1", "m2", "m3", "m4", "m5", "m6", "m7")}

# Independent random streams under (seed, language index, stream, ...).
_SHIFT_STREAM, _VOICE_STREAM, _SPEAKER_STREAM, _UTTERANCE_STREAM = range(4)


@dataclass(frozen=True)
class SynthesisSpec:
    """What to synthesise; the same spec always gives the same corpus, byte for byte.

    ``shift`` scales the per-language expression shift (0 = the same emotion profiles in every
    language) and ``remap`` the Urdu cue exchange between emotion pairs (0 disables it).
    """

    languages: tuple[str, ...] = LANGUAGES
    speakers_per_language: int = 6
    sentences_per_language: int = 12
    shift: float = 1.0
    remap: float = 0.6
    seed: int = 0
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))
        if not self.languages or len(set(self.languages)) != len(self.languages):
            raise ValueError(f"languages must be a non-empty list without repeats, got {list(self.languages)}.")
        for language in self.languages:
            _check_language(language)
        if self.speakers_per_language < 1:
            raise ValueError(f"speakers_per_language must be at least 1, got {self.speakers_per_language}.")
        if not 1 <= self.sentences_per_language <= _SHIPPED_SENTENCES:
            raise ValueError(
                f"sentences_per_language must be between 1 and {_SHIPPED_SENTENCES} "
                f"(the sentences shipped per language), got {self.sentences_per_language}."
            )
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}.")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (languages as a list)."""
        return {**asdict(self), "languages": list(self.languages)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SynthesisSpec":
        """Inverse of :meth:`to_dict`; missing keys take their defaults."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown SynthesisSpec field(s) {unknown}; known fields are {[f.name for f in fields(cls)]}.")
        return cls(**d)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}; supported languages are {', '.join(LANGUAGES)}.")


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def emotion_profile(language: str, emotion: str, spec: SynthesisSpec) -> tuple[float, float, float, float]:
    """Mean (rate, pitch, range, volume) of ``emotion`` in ``language``, before speaker offset and jitter."""
    _check_language(language)
    if emotion not in EMOTIONS:
        raise ValueError(f"Unknown emotion {emotion!r}; supported emotions are {', '.join(EMOTIONS)}.")
    z = _rng(spec.seed, LANGUAGES.index(language), _SHIFT_STREAM).standard_normal((len(EMOTIONS), 4))
    spread = _SHIFT_SCALE * z[EMOTIONS.index(emotion)]
    profile = _BASE[emotion] + spec.shift * (_LANGUAGE_BASELINE[language] + spread)
    if language in _CUE_EXCHANGE:
        profile = profile + spec.remap * _CUE_EXCHANGE[language][emotion]
    rate, pitch, pitch_range, volume = (float(x) for x in profile)
    return rate, pitch, pitch_range, volume


class _Job(NamedTuple):
    """One utterance for the engine: text, espeak voice name, integer prosody and a noise seed."""

    text: str
    voice: str
    prosody: tuple[int, int, int, int]
    noise_seed: int


_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_PARAMETERS = (1, 3, 4, 2)  # espeakRATE, espeakPITCH, espeakRANGE, espeakVOLUME, in prosody order
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _import_engine() -> Any:
    """The ``espeakng_loader`` module, imported only when speech is synthesised (the demo's optional extra)."""
    try:
        import espeakng_loader
    except ImportError:
        raise ImportError(
            "The synthetic demo corpus is spoken by espeak-ng, which is not installed: "
            "pip install 'ser_lightning[demo]' (or pip install espeakng-loader)."
        ) from None
    return espeakng_loader


class _Espeak:
    """The process's espeak-ng engine in synchronous mode; not thread-safe (see :func:`_speak`)."""

    def __init__(self) -> None:
        espeakng_loader = _import_engine()
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise (status {self.sample_rate}).")
        self._chunks: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept referenced: the library calls it later
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * count))
        return 0

    def synthesize(self, job: _Job) -> np.ndarray:
        """Speak one job; int16 samples at :attr:`sample_rate`."""
        if self._lib.espeak_SetVoiceByName(job.voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {job.voice!r}.")
        for parameter, value in zip(_ESPEAK_PARAMETERS, job.prosody):
            self._lib.espeak_SetParameter(parameter, value, 0)
        self._lib.espeak_ng_SetRandSeed(job.noise_seed)  # breathy voices mix in noise from this generator
        self._chunks.clear()
        text = job.text.encode()
        status = self._lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        samples = np.frombuffer(b"".join(self._chunks), dtype=np.int16)
        if status != 0 or not samples.any():
            raise RuntimeError(f"espeak-ng produced no speech (status {status}) for voice {job.voice!r} and text {job.text!r}.")
        return samples


_engine: _Espeak | None = None
_engine_lock = threading.Lock()


def _speak(job: _Job) -> tuple[np.ndarray, int]:
    """Speak one job with this process's engine (created on first use); returns (int16 samples, sample rate)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Espeak()
        return _engine.synthesize(job), _engine.sample_rate


def _resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    waveform = torch.from_numpy(samples.astype(np.float32) / 32768.0)
    resampled = resample(waveform, orig_rate, new_rate).numpy()
    return np.clip(np.round(resampled * 32768.0), -32768, 32767).astype(np.int16)


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(tmp, samples, sample_rate, format="WAV", subtype="PCM_16")
    os.replace(tmp, path)


def _plan_language(spec: SynthesisSpec, language: str, out_dir: Path) -> list[tuple[Utterance, _Job]]:
    """Every utterance of one language (duration still unknown) with the job that speaks it."""
    index = LANGUAGES.index(language)
    voice_rng = _rng(spec.seed, index, _VOICE_STREAM)
    variant_order = {gender: voice_rng.permutation(len(variants)) for gender, variants in _VOICE_VARIANTS.items()}
    profiles = [np.array(emotion_profile(language, emotion, spec)) for emotion in EMOTIONS]
    plan = []
    for s in range(spec.speakers_per_language):
        gender, number = "fm"[s % 2], s // 2 + 1
        speaker = f"{language}_{gender}{number}"
        variants = _VOICE_VARIANTS[gender]
        voice = f"{language}+{variants[variant_order[gender][(number - 1) % len(variants)]]}"
        pitch_offset = _rng(spec.seed, index, _SPEAKER_STREAM, s).normal(0.0, _SPEAKER_PITCH_SD)
        for e, emotion in enumerate(EMOTIONS):
            for n, text in enumerate(SENTENCES[language][: spec.sentences_per_language]):
                rng = _rng(spec.seed, index, _UTTERANCE_STREAM, s, e, n)
                prosody = profiles[e] + np.array([0.0, pitch_offset, 0.0, 0.0]) + rng.normal(0.0, _JITTER_SD)
                rate, pitch, pitch_range, volume = (int(x) for x in np.clip(np.round(prosody), _PROSODY_LOW, _PROSODY_HIGH))
                sentence = f"s{n + 1:02d}"
                utterance = Utterance(
                    path=str(out_dir / language / speaker / f"{speaker}_{emotion}_{sentence}.wav"),
                    label=emotion,
                    speaker=speaker,
                    language=language,
                    corpus=CORPUS_NAME,
                    sample_rate=spec.sample_rate,
                    extra={"sentence": sentence, "gender": gender},
                )
                plan.append((utterance, _Job(text, voice, (rate, pitch, pitch_range, volume), int(rng.integers(2**31)))))
    return plan


def _synthesize_language(tasks: list[tuple[_Job, str]], sample_rate: int) -> list[int]:
    """Worker: speak, resample and write one language's (job, WAV path) tasks; returns their lengths in samples."""
    torch.set_num_threads(1)  # one core per worker, and no OpenMP pool carried over from the forking parent
    lengths = []
    for job, path in tasks:
        samples, native_rate = _speak(job)
        samples = _resample(samples, native_rate, sample_rate)
        _write_wav(Path(path), samples, sample_rate)
        lengths.append(len(samples))
    return lengths


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
        tasks = [([(job, utterance.path) for utterance, job in plan], spec.sample_rate) for plan in plans]
        for plan, lengths in zip(plans, pool.starmap(_synthesize_language, tasks)):
            utterances += [utterance.with_(duration=n / spec.sample_rate) for (utterance, _), n in zip(plan, lengths)]
    (out_dir / "synthesis.json").write_text(json.dumps(spec.to_dict(), indent=2) + "\n", encoding="utf-8")
    write_manifest(utterances, manifest)
    return utterances
