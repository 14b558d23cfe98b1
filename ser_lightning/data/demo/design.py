"""The demo corpus's design: languages, sentences, emotion prosody profiles and speakers (see the package docstring)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

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
