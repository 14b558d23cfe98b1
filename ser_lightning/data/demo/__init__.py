"""The demo corpus generator: multilingual emotional speech spoken by the embedded espeak-ng engine.

Three things are called "synthetic". This package is the *generator*: :func:`synthesize_corpus`
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

from .design import (
    CORPUS_NAME,
    EMOTIONS,
    FEMALE_VARIANTS,
    GENERATOR_VERSION,
    LANGUAGES,
    MALE_VARIANTS,
    MAX_SPEAKERS_PER_LANGUAGE,
    SENTENCES,
    Speaker,
    SynthesisSpec,
    emotion_profile,
    speaker_plan,
)
from .generate import synthesize_corpus

__all__ = [
    "CORPUS_NAME",
    "EMOTIONS",
    "FEMALE_VARIANTS",
    "GENERATOR_VERSION",
    "LANGUAGES",
    "MALE_VARIANTS",
    "MAX_SPEAKERS_PER_LANGUAGE",
    "SENTENCES",
    "Speaker",
    "SynthesisSpec",
    "emotion_profile",
    "speaker_plan",
    "synthesize_corpus",
]
