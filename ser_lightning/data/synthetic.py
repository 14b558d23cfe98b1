"""The demo corpus generator: multilingual emotional speech spoken by the embedded espeak-ng engine.

Three things are called "synthetic". This module is the *generator*: :func:`synthesize_corpus`
(also ``python -m ser_lightning.data synth``) writes the audio files, a JSONL manifest and
``synthesis.json``. :class:`ser_lightning.data.SyntheticCorpus` is the *corpus*: it runs this
generator on first use and hands its manifest to any DataModule. :class:`ser_lightning.data.SyntheticDataModule`
is a *DataModule* for in-corpus experiments on that corpus.

Real emotional speech corpora are licensed, so the demo and the tests use this one instead. Every
(language x speaker x emotion x sentence) combination is spoken by espeak-ng (``espeakng_loader``'s
library, driven through ``ctypes``) and written as a 16-bit mono WAV.

Speakers: every speaker of the corpus has a voice of its own, so a held-out or target speaker is a
voice no training speaker has: a distinct espeak-ng variant (no two speakers of any language share
one; female speakers get female variants), a vocal-tract warp that scales formants and pitch by
about +-8 %, and a pitch offset. :func:`speaker_plan` lists them. Each speaker is recorded at its own
level over a seeded noise floor 45-60 dB below its speech (between white and pink noise), as real
recordings are: the files hold no digital silence.

Emotions are prosody profiles: (rate in words/min, pitch 0-99, pitch range 0-99, volume 0-200), and
every utterance adds Gaussian jitter, so the task is learnable but not trivial. The profile of
emotion ``e`` in language ``l`` is

    BASE[e] + shift * (G[l] + R[l][e]) + remap * W[l][e]

``G`` is a small per-language baseline and ``R`` a seeded per-language, per-emotion perturbation:
without them a model trained on one language transfers perfectly to the others, and cross-lingual
experiments show nothing. ``W`` is non-zero for Urdu only: Urdu angry and happy exchange their rate
and volume (their pitch and pitch range still say which is which), and ``remap`` scales that exchange
from 0 (none) to 1 (the full exchange, the default). Urdu emotions stay as distinct from each other as
in the other languages; they are only expressed differently, so a model trained on en/de/it confuses
Urdu angry and happy while Urdu-trained models do not. Avoid strengths around 0.5: half an exchange
makes the two emotions coincide in rate and volume, which makes Urdu itself ambiguous rather than
differently expressed. (Measured with generator version 2, which exchanged both angry/happy and
neutral/sad at 0.6: a model trained on 5 Urdu speakers reached UA 0.43-0.49, no better than zero-shot
transfer from en/de/it at 0.42-0.49, so its "cross-language gap" was Urdu's own ambiguity, with
nothing for target-language data to recover.) How much of the gap a few Urdu examples recover is for
the few-shot experiments to measure, not a property of the corpus.

espeak-ng keeps state between utterances that no API call resets (pitch-flutter phase, gain control),
so the same text spoken twice in one process comes out different. Each language is therefore spoken
in its own freshly forked worker process, which never initialised espeak before, so the audio is a
function of the spec alone: the same spec gives byte-identical files, and adding a language leaves
the other languages' audio unchanged. Workers are forked (POSIX only), not spawned: spawning would
re-import the package and its training stack in every worker and require an
``if __name__ == "__main__":`` guard in every script that builds a corpus.

``synthesis.json`` records the spec together with :data:`GENERATOR_VERSION`, which changes whenever
the same spec would give different audio, so a tree written by another version is refused instead
of silently reused.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
import torch

from ser_lightning.data.audio import resample
from ser_lightning.data.manifest import Utterance, write_manifest
from ser_lightning.fileio import temporary_path, write_text_atomic

GENERATOR_VERSION = 3
"""Version of the audio this module writes: 1 shared 11 voices among all speakers and wrote digital silence."""

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
_CUE_EXCHANGE = {  # at remap 1 Urdu angry takes happy's rate and volume and vice versa
    "ur": {
        "angry": np.array([-20.0, 0.0, 0.0, -40.0]),
        "happy": np.array([20.0, 0.0, 0.0, 40.0]),
    }
}
_JITTER_SD = np.array([20.0, 10.0, 15.0, 20.0])
_PROSODY_LOW = np.array([80, 0, 0, 0])
_PROSODY_HIGH = np.array([450, 99, 99, 200])

# espeak-ng variants (voices/!v) meant to sound like adult speakers, all of which speak the four
# languages: no robots, whispers, croaks, long echoes, children or formants far from human values, and
# no near-copies (steph3 of steph2, klatt6 of adam, michel of miguel, ...). Each language's speakers
# 1-3 of a gender take the first 12 of its pool; only a 4th (7 or 8 speakers per language) takes one of
# the last 4, which hold the two female variants that keep an envelope close to another's (steph2 has
# steph's formants and pitch, aunty f4's formants; aunty differs in pitch and flutter, and steph2's
# speakers get a vocal tract at least 6 % shorter than steph's through their warp ranges).
FEMALE_VARIANTS: tuple[str, ...] = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika", "belinda", "linda", "steph",
    "shelby", "grandma", "aunty", "steph2",
)  # fmt: skip
MALE_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m6", "m7", "m8", "Alex", "Mario", "adam", "david", "edward",
    "Reed", "john", "max", "pablo",
)  # fmt: skip
_VARIANTS = {"f": FEMALE_VARIANTS, "m": MALE_VARIANTS}
_FIRST_CHOICE = 3 * len(LANGUAGES)  # variants for speakers 1-3 of each gender in every language
# Speakers alternate female, male, female, ... and every language has its own share of each pool.
MAX_SPEAKERS_PER_LANGUAGE = min(2 * (len(FEMALE_VARIANTS) // len(LANGUAGES)), 2 * (len(MALE_VARIANTS) // len(LANGUAGES)) + 1)

_SPEAKER_PITCH_SD = 8.0  # espeak pitch units (0-99 scale)
_WARP_RANGE = (0.92, 1.08)  # formant and pitch scale, as vocal tract lengths vary within a gender
_VARIANT_WARP_RANGE = {"steph": (0.92, 1.0), "steph2": (1.06, 1.14)}  # keeps these two voices apart
_WARP_STEP_HZ = 50  # warped source rates are multiples of this, keeping resampling kernels small
_LEVEL_RANGE_DBFS = (-26.0, -20.0)  # a speaker's mean speech RMS
_FLOOR_TILT_RANGE = (0.0, 1.0)  # noise floor power spectrum ~ 1 / f**tilt: 0 white, 1 pink
_FLOOR_LOW_CUT_HZ = 50.0  # the floor's spectrum stays flat below this

# Independent random streams under (seed, language index, stream, ...); voices use (seed, stream).
_SHIFT_STREAM, _VOICE_STREAM, _SPEAKER_STREAM, _UTTERANCE_STREAM = range(4)


@dataclass(frozen=True)
class SynthesisSpec:
    """What to synthesise; the same spec always gives the same corpus, byte for byte.

    ``shift`` scales the per-language expression shift (0 = the same emotion profiles in every
    language) and ``remap`` Urdu's exchange of rate and volume between angry and happy (0 disables it).
    ``noise_floor_db`` is the range (low, high) from which each speaker's recording noise floor is
    drawn, in dB below the speaker's speech level; None writes exact digital silence instead.
    ``version`` is :data:`GENERATOR_VERSION`, set by the generator, not by callers.
    """

    languages: tuple[str, ...] = LANGUAGES
    speakers_per_language: int = 6
    sentences_per_language: int = 12
    shift: float = 1.0
    remap: float = 1.0
    seed: int = 0
    sample_rate: int = 16000
    noise_floor_db: tuple[float, float] | None = (45.0, 60.0)
    version: int = field(default=GENERATOR_VERSION, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))
        if not self.languages or len(set(self.languages)) != len(self.languages):
            raise ValueError(f"languages must be a non-empty list without repeats, got {list(self.languages)}.")
        for language in self.languages:
            _check_language(language)
        if self.speakers_per_language < 1:
            raise ValueError(f"speakers_per_language must be at least 1, got {self.speakers_per_language}.")
        if self.speakers_per_language > MAX_SPEAKERS_PER_LANGUAGE:
            raise ValueError(
                f"speakers_per_language={self.speakers_per_language} asks for more voices than there are: every speaker "
                f"of the corpus has its own espeak-ng variant, and the {len(FEMALE_VARIANTS)} female and "
                f"{len(MALE_VARIANTS)} male variants used, shared by {len(LANGUAGES)} languages, give at most "
                f"{MAX_SPEAKERS_PER_LANGUAGE} speakers per language; use more sentences per speaker for more data."
            )
        if not 1 <= self.sentences_per_language <= _SHIPPED_SENTENCES:
            raise ValueError(
                f"sentences_per_language must be between 1 and {_SHIPPED_SENTENCES} "
                f"(the sentences shipped per language), got {self.sentences_per_language}."
            )
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}.")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}.")
        if self.noise_floor_db is not None:
            floor = self.noise_floor_db
            if isinstance(floor, str) or len(floor) != 2 or not 0.0 < float(floor[0]) <= float(floor[1]):
                raise ValueError(
                    f"noise_floor_db must be [low, high] in dB below the speech level with 0 < low <= high "
                    f"(e.g. [45, 60]), or None for digital silence; got {self.noise_floor_db!r}."
                )
            object.__setattr__(self, "noise_floor_db", (float(floor[0]), float(floor[1])))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (tuples as lists), including ``version``."""
        d = {**asdict(self), "languages": list(self.languages)}
        if self.noise_floor_db is not None:
            d["noise_floor_db"] = list(self.noise_floor_db)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthesisSpec:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, except ``version`` (missing = 1).

        Raises:
            ValueError: on unknown keys, or when ``version`` is not :data:`GENERATOR_VERSION` (the spec
                describes audio that this generator no longer writes).
        """
        d = dict(d)
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"Unknown SynthesisSpec field(s) {unknown}; known fields are {names}.")
        version = d.pop("version", 1)
        if version != GENERATOR_VERSION:
            raise ValueError(
                f"This synthesis spec was written by synthetic corpus generator version {version}, but this "
                f"ser_lightning writes version {GENERATOR_VERSION}, whose audio differs; delete that corpus folder "
                "and let it be generated again."
            )
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
        profile = profile + spec.remap * _CUE_EXCHANGE[language].get(emotion, 0.0)
    rate, pitch, pitch_range, volume = (float(x) for x in profile)
    return rate, pitch, pitch_range, volume


class Speaker(NamedTuple):
    """One speaker of the corpus: its voice and how it was recorded.

    ``variant`` is the espeak-ng voice variant (spoken as ``<language>+<variant>``); ``pitch_offset``
    is added to every pitch (espeak's 0-99 scale); ``warp`` scales formants and pitch (1 = as the
    variant speaks); ``level_dbfs`` is the speaker's mean speech RMS in dB re full scale;
    ``floor_db`` is how far the recording noise floor lies below that level (None: digital silence)
    and ``floor_tilt`` its spectral slope (power ~ 1/f**tilt: 0 white, 1 pink).
    """

    name: str
    language: str
    gender: str
    variant: str
    pitch_offset: float
    warp: float
    level_dbfs: float
    floor_db: float | None
    floor_tilt: float


def speaker_plan(spec: SynthesisSpec) -> list[Speaker]:
    """Every speaker of the corpus described by ``spec``, language by language; no two share a variant.

    A speaker depends only on the seed, its language and its number, so adding languages or speakers
    leaves the others unchanged.
    """
    order = _rng(spec.seed, _VOICE_STREAM)
    variant_order = {
        gender: np.concatenate([order.permutation(_FIRST_CHOICE), _FIRST_CHOICE + order.permutation(len(variants) - _FIRST_CHOICE)])
        for gender, variants in _VARIANTS.items()
    }
    speakers = []
    for language in spec.languages:
        index = LANGUAGES.index(language)
        for s in range(spec.speakers_per_language):
            gender, number = "fm"[s % 2], s // 2 + 1
            slot = variant_order[gender][(number - 1) * len(LANGUAGES) + index]
            rng = _rng(spec.seed, index, _SPEAKER_STREAM, s)
            pitch_offset = float(rng.normal(0.0, _SPEAKER_PITCH_SD))
            warp, level, floor_position, tilt = (float(x) for x in rng.uniform(size=4))
            floor_db = None if spec.noise_floor_db is None else _between(spec.noise_floor_db, floor_position)
            variant = _VARIANTS[gender][slot]
            speakers.append(
                Speaker(
                    name=f"{language}_{gender}{number}",
                    language=language,
                    gender=gender,
                    variant=variant,
                    pitch_offset=pitch_offset,
                    warp=_between(_VARIANT_WARP_RANGE.get(variant, _WARP_RANGE), warp),
                    level_dbfs=_between(_LEVEL_RANGE_DBFS, level),
                    floor_db=floor_db,
                    floor_tilt=_between(_FLOOR_TILT_RANGE, tilt),
                )
            )
    return speakers


def _between(bounds: tuple[float, float], position: float) -> float:
    return bounds[0] + position * (bounds[1] - bounds[0])


class _Job(NamedTuple):
    """One utterance for the worker: what espeak-ng says, with which seeds, and where the WAV goes."""

    text: str
    voice: str
    prosody: tuple[int, int, int, int]
    engine_seed: int
    floor_seed: int
    path: str


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
        self._lib.espeak_ng_SetRandSeed(job.engine_seed)  # breathy voices mix in noise from this generator
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    sf.write(tmp, samples, sample_rate, format="WAV", subtype="PCM_16")
    os.replace(tmp, path)


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
