"""Tests for the embedded synthetic multilingual emotional speech corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_lightning.data import SyntheticCorpus
from ser_lightning.data.__main__ import main
from ser_lightning.data.demo import (
    CORPUS_NAME,
    EMOTIONS,
    FEMALE_VARIANTS,
    GENERATOR_VERSION,
    LANGUAGES,
    MALE_VARIANTS,
    MAX_SPEAKERS_PER_LANGUAGE,
    SENTENCES,
    SynthesisSpec,
    emotion_profile,
    speaker_plan,
    synthesize_corpus,
)
from ser_lightning.data.manifest import ManifestError, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = SynthesisSpec(languages=("en", "ur"), speakers_per_language=2, sentences_per_language=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("synthetic")
    return out, synthesize_corpus(out, SMALL)


def wav_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.wav"))}


def test_same_spec_gives_identical_files_and_other_seed_differs(corpus, tmp_path):
    out, _ = corpus
    synthesize_corpus(tmp_path / "again", SMALL)
    assert wav_bytes(tmp_path / "again") == wav_bytes(out)
    assert (tmp_path / "again" / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()

    synthesize_corpus(tmp_path / "seed1", SynthesisSpec.from_dict({**SMALL.to_dict(), "seed": 1}))
    original, reseeded = wav_bytes(out), wav_bytes(tmp_path / "seed1")
    assert reseeded.keys() == original.keys()
    assert all(reseeded[name] != original[name] for name in original)


def test_adding_a_language_leaves_other_languages_audio_unchanged(corpus, tmp_path):
    out, _ = corpus
    synthesize_corpus(tmp_path, SynthesisSpec(languages=("ur",), speakers_per_language=2, sentences_per_language=2))
    urdu_alone = wav_bytes(tmp_path)
    assert urdu_alone and all(name.startswith("ur/") for name in urdu_alone)
    assert urdu_alone == {name: data for name, data in wav_bytes(out).items() if name.startswith("ur/")}


def test_layout_labels_and_manifest(corpus):
    out, utterances = corpus
    assert len(utterances) == 2 * 2 * len(EMOTIONS) * 2
    assert {u.label for u in utterances} == set(EMOTIONS)
    assert {u.language for u in utterances} == {"en", "ur"}
    assert {u.speaker for u in utterances} == {"en_f1", "en_m1", "ur_f1", "ur_m1"}
    for u in utterances:
        sentence = u.extra["sentence"]
        assert Path(u.path) == out / u.language / u.speaker / f"{u.speaker}_{u.label}_{sentence}.wav"
        assert sentence in {"s01", "s02"}
        assert u.extra["gender"] == u.speaker.split("_")[1][0]
        assert (u.corpus, u.sample_rate) == (CORPUS_NAME, 16000)
        info = sf.info(u.path)
        assert (info.channels, info.samplerate, info.subtype, info.format) == (1, 16000, "PCM_16", "WAV")
        assert u.duration == info.frames / 16000
        assert 0.5 < u.duration < 8.0
    assert read_manifest(out / "manifest.jsonl") == utterances
    assert SynthesisSpec.from_dict(json.loads((out / "synthesis.json").read_text())) == SMALL
    assert not list(out.rglob("*.tmp"))


def test_emotion_prosody_reaches_the_audio(corpus):
    _, utterances = corpus

    def mean(emotion: str, measure) -> float:
        return float(np.mean([measure(u) for u in utterances if u.label == emotion]))

    def rms(u) -> float:
        samples, _ = sf.read(u.path, dtype="float64")
        return float(np.sqrt(np.mean(samples**2)))

    # sad is spoken slower (rate 120 vs 210 words/min) and quieter (volume 70 vs 170) than angry
    assert mean("sad", lambda u: u.duration) > 1.3 * mean("angry", lambda u: u.duration)
    assert mean("sad", rms) < 0.7 * mean("angry", rms)


def test_shift_zero_gives_the_same_profiles_in_every_language():
    flat = SynthesisSpec(shift=0.0, remap=0.0)
    shifted = SynthesisSpec(shift=1.0, remap=0.0)
    for emotion in EMOTIONS:
        assert len({emotion_profile(language, emotion, flat) for language in LANGUAGES}) == 1
        assert len({emotion_profile(language, emotion, shifted) for language in LANGUAGES}) == len(LANGUAGES)


def test_shift_depends_on_seed_by_language_not_on_position():
    assert emotion_profile("de", "sad", SynthesisSpec(seed=0)) != emotion_profile("de", "sad", SynthesisSpec(seed=1))
    reordered = SynthesisSpec(languages=("ur", "de"))
    assert emotion_profile("de", "sad", reordered) == emotion_profile("de", "sad", SynthesisSpec())


def test_urdu_remap_exchanges_the_rate_and_volume_of_angry_and_happy_and_keeps_them_distinct():
    plain, remapped = SynthesisSpec(remap=0.0), SynthesisSpec(remap=1.0)
    expected = {"angry": (-20, -40), "happy": (20, 40), "neutral": (0, 0), "sad": (0, 0)}
    for emotion, (rate_change, volume_change) in expected.items():
        before, after = emotion_profile("ur", emotion, plain), emotion_profile("ur", emotion, remapped)
        assert after[0] - before[0] == pytest.approx(rate_change)
        assert after[3] - before[3] == pytest.approx(volume_change)
        assert after[1:3] == pytest.approx(before[1:3])
        assert emotion_profile("en", emotion, remapped) == emotion_profile("en", emotion, plain)
    angry, happy = (emotion_profile("ur", e, remapped) for e in ("angry", "happy"))
    assert abs(angry[0] - happy[0]) > 10 and abs(angry[3] - happy[3]) > 20  # exchanged, not merged: Urdu stays separable


def test_bad_specs_are_rejected_with_a_useful_message():
    with pytest.raises(ValueError, match=r"'fr'.*en, de, it, ur"):
        SynthesisSpec(languages=("en", "fr"))
    with pytest.raises(ValueError, match=r"'fr'.*en, de, it, ur"):
        emotion_profile("fr", "sad", SynthesisSpec())
    with pytest.raises(ValueError, match="sentences"):
        SynthesisSpec(sentences_per_language=1000)
    with pytest.raises(ValueError, match="bogus"):
        SynthesisSpec.from_dict({"bogus": 1})


def test_enough_distinct_native_sentences_are_shipped():
    assert set(SENTENCES) == set(LANGUAGES)
    for texts in SENTENCES.values():
        assert len(set(texts)) == len(texts) >= 12
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in text) for text in SENTENCES["ur"])  # Urdu script
    assert any(ch in "äöüß" for text in SENTENCES["de"] for ch in text)


def test_spec_round_trips_through_plain_json():
    spec = SynthesisSpec(languages=("it", "de"), shift=0.5, seed=7)
    as_json = json.loads(json.dumps(spec.to_dict()))
    assert as_json["languages"] == ["it", "de"]
    assert SynthesisSpec.from_dict(as_json) == spec


def test_failed_synthesis_names_voice_and_text_and_leaves_no_manifest(tmp_path, monkeypatch):
    tiny = SynthesisSpec(languages=("it",), speakers_per_language=1, sentences_per_language=1)
    synthesize_corpus(tmp_path, tiny)
    assert (tmp_path / "manifest.jsonl").exists()
    monkeypatch.setitem(SENTENCES, "it", ("",) * len(SENTENCES["it"]))
    with pytest.raises(RuntimeError, match=r"no speech .* voice 'it\+\w+' and text ''"):
        synthesize_corpus(tmp_path, tiny)
    assert not (tmp_path / "manifest.jsonl").exists()


def test_synth_command_writes_a_corpus(tmp_path):
    out = tmp_path / "cli"
    args = ["synth", "--out", str(out), "--languages", "it", "--speakers", "1", "--sentences", "1", "--seed", "3"]
    args += ["--noise-floor-db", "50", "55"]
    result = subprocess.run([sys.executable, "-m", "ser_lightning.data", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Wrote {len(EMOTIONS)} utterances to {out}" in result.stdout
    utterances = read_manifest(out / "manifest.jsonl")
    assert {(u.language, u.speaker) for u in utterances} == {("it", "it_f1")}
    written = json.loads((out / "synthesis.json").read_text())
    assert (written["seed"], written["noise_floor_db"], written["version"]) == (3, [50.0, 55.0], GENERATOR_VERSION)


def test_synth_command_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--languages", "fr"])
    assert "invalid choice: 'fr'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--sentences", "1000"])
    assert "sentences_per_language" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--noise-floor-db", "60", "45"])
    assert "noise_floor_db must be [low, high]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--noise-floor-db", "50", "55", "--no-noise-floor"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "manifest.jsonl").exists()


def longest_zero_run(samples: np.ndarray) -> int:
    edges = np.diff(np.r_[0, (samples == 0).astype(np.int8), 0])
    return int(max((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max(initial=0), 0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_two_speakers_of_the_corpus_share_a_voice(seed):
    speakers = speaker_plan(SynthesisSpec(speakers_per_language=MAX_SPEAKERS_PER_LANGUAGE, seed=seed))
    assert len(speakers) == len(LANGUAGES) * MAX_SPEAKERS_PER_LANGUAGE >= 4 * 8
    assert len({s.variant for s in speakers}) == len(speakers)
    assert len({s.name for s in speakers}) == len(speakers)
    for s in speakers:
        assert s.variant in (FEMALE_VARIANTS if s.gender == "f" else MALE_VARIANTS)
    warps = {s.variant: s.warp for s in speakers}
    assert 0.9 <= min(warps.values()) < max(warps.values()) <= 1.15
    assert warps["steph2"] >= 1.06 * warps["steph"]  # same formants and pitch: apart by vocal tract length
    first_three = speaker_plan(SynthesisSpec(speakers_per_language=6, seed=seed))
    assert not {s.variant for s in first_three} & {"steph2", "aunty"}  # close to steph and f4: only for a 4th speaker
    other_seed = speaker_plan(SynthesisSpec(speakers_per_language=MAX_SPEAKERS_PER_LANGUAGE, seed=seed + 3))
    assert [s.variant for s in other_seed] != [s.variant for s in speakers]


def test_a_speaker_does_not_depend_on_the_other_languages_or_speakers():
    full = speaker_plan(SynthesisSpec(speakers_per_language=MAX_SPEAKERS_PER_LANGUAGE))
    urdu_pair = speaker_plan(SynthesisSpec(languages=("ur",), speakers_per_language=2))
    assert urdu_pair == [s for s in full if s.language == "ur"][:2]


def test_more_speakers_than_voices_is_a_clear_error():
    too_many = MAX_SPEAKERS_PER_LANGUAGE + 1
    with pytest.raises(ValueError, match=rf"speakers_per_language={too_many} .* own espeak-ng variant.* at most {too_many - 1}"):
        SynthesisSpec(speakers_per_language=MAX_SPEAKERS_PER_LANGUAGE + 1)


def test_files_are_spoken_by_the_planned_voices(corpus):
    _, utterances = corpus
    planned = {s.name: f"{s.language}+{s.variant}" for s in speaker_plan(SMALL)}
    assert {u.speaker: u.extra["voice"] for u in utterances} == planned


@pytest.fixture(scope="module")
def silent_corpus(tmp_path_factory: pytest.TempPathFactory) -> list:
    """SMALL without a noise floor: the same speech, with exact digital silence between words."""
    return synthesize_corpus(tmp_path_factory.mktemp("silent"), SynthesisSpec.from_dict({**SMALL.to_dict(), "noise_floor_db": None}))


def test_recordings_have_a_noise_floor_at_the_planned_level_and_no_digital_silence(corpus, silent_corpus):
    _, utterances = corpus
    assert max(longest_zero_run(sf.read(u.path, dtype="int16")[0]) for u in silent_corpus) > 100
    silent = {u.speaker + u.label + u.extra["sentence"]: sf.read(u.path, dtype="int16")[0] for u in silent_corpus}
    for speaker in speaker_plan(SMALL):
        assert -26.0 <= speaker.level_dbfs <= -20.0 and 45.0 <= speaker.floor_db <= 60.0
        mine = [u for u in utterances if u.speaker == speaker.name]
        waves = [sf.read(u.path, dtype="int16")[0] for u in mine]
        assert max(longest_zero_run(w) for w in waves) <= 16  # a few isolated zero samples, no silent stretch
        level = 10 * np.log10(np.mean([np.mean((w / 32768.0) ** 2) for w in waves]))
        assert level == pytest.approx(speaker.level_dbfs, abs=0.1)
        # the same spec without a floor gives the same speech, so the difference is the floor itself
        floors = [w / 32768.0 - silent[u.speaker + u.label + u.extra["sentence"]] / 32768.0 for u, w in zip(mine, waves)]
        floor_level = 10 * np.log10(np.mean(np.concatenate(floors) ** 2))
        assert level - floor_level == pytest.approx(speaker.floor_db, abs=0.5)


def test_noise_floor_range_is_checked():
    for bad in [(60.0, 45.0), (0.0, 10.0), (50.0,), "45"]:
        with pytest.raises(ValueError, match="noise_floor_db"):
            SynthesisSpec(noise_floor_db=bad)
    assert SynthesisSpec(noise_floor_db=[50, 50]).noise_floor_db == (50.0, 50.0)


def test_a_tree_from_another_generator_version_is_refused_with_the_fix(tmp_path):
    old = {key: value for key, value in SynthesisSpec().to_dict().items() if key not in ("version", "noise_floor_db")}
    assert SynthesisSpec().to_dict()["version"] == GENERATOR_VERSION
    with pytest.raises(ValueError, match=rf"version 1, .* writes version {GENERATOR_VERSION}.*delete"):
        SynthesisSpec.from_dict(old)
    (tmp_path / "synthesis.json").write_text(json.dumps(old))
    (tmp_path / "manifest.jsonl").write_text("")
    with pytest.raises(ManifestError, match=rf"{tmp_path}.*generator version 1.*delete {tmp_path}"):
        SyntheticCorpus(str(tmp_path)).prepare()


def test_two_runs_preparing_one_corpus_at_once_both_succeed(tmp_path):
    """A sweep launches runs together: both prepare the demo corpus in one folder; one writes it, the other waits and reads it."""
    import subprocess
    import sys

    code = (
        "import sys; from ser_lightning.data import SyntheticCorpus; "
        "c = SyntheticCorpus(sys.argv[1], speakers_per_language=2, sentences_per_language=1, synth_languages=['en', 'ur']); "
        "c.prepare(); print(len(c.load(check_audio=False)))"
    )
    root = str(tmp_path / "synthetic")
    runs = [subprocess.Popen([sys.executable, "-c", code, root], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["16", "16"]  # 2 languages x 2 speakers x 4 emotions x 1 sentence
    assert not list((tmp_path / "synthetic").rglob("*.tmp"))
