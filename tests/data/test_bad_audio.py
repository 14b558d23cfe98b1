"""Bad audio is caught before it reaches the model, with the file named; odd but sound files are converted, never rejected."""

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_lightning.data import ManifestCorpus, SERDataModule
from ser_lightning.data.audio import AudioError, BadSamplesError, load_audio
from ser_lightning.data.manifest import ManifestError

RATE = 16000


def tone(seconds=0.5, rate=RATE, channels=1, level=0.3):
    t = np.arange(int(seconds * rate)) / rate
    wave = level * np.sin(2 * np.pi * 220 * t)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


SAMPLE_FAULTS = {
    "nan.wav": (lambda: np.where(np.arange(8000) % 800 == 0, np.nan, tone()), "FLOAT", "10 NaN or infinite samples"),
    "inf.wav": (lambda: np.where(np.arange(8000) == 5, np.inf, tone()), "FLOAT", "1 NaN or infinite samples"),
    "unscaled.wav": (lambda: tone() * 32767, "FLOAT", "far outside"),
    "silent.wav": (lambda: np.zeros(8000), "PCM_16", "silent"),
    "cancelling.wav": (lambda: tone(channels=2) * np.array([1.0, -1.0]), "PCM_16", "channels cancel"),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_FAULTS))
def test_sample_faults_are_refused_when_decoded_naming_the_file(tmp_path, name):
    make, subtype, reason = SAMPLE_FAULTS[name]
    sf.write(tmp_path / name, make(), RATE, subtype=subtype)
    with pytest.raises(BadSamplesError, match=f"{name}: .*{reason}"):
        load_audio(tmp_path / name, RATE)


@pytest.mark.parametrize(
    ("name", "fmt", "subtype", "channels", "rate"),
    [
        ("u8.wav", "WAV", "PCM_U8", 1, 8000),
        ("s24.wav", "WAV", "PCM_24", 2, 48000),
        ("s32.wav", "WAV", "PCM_32", 1, 44100),
        ("f32.wav", "WAV", "FLOAT", 1, 22050),
        ("x.flac", "FLAC", "PCM_16", 2, 48000),
        ("x.ogg", "OGG", "VORBIS", 1, 16000),
        ("x.mp3", "MP3", "MPEG_LAYER_III", 1, 16000),
        ("flac_named.wav", "FLAC", "PCM_16", 1, 16000),  # mislabelled: the content decides, not the suffix
    ],
)
def test_odd_but_sound_files_are_converted_not_rejected(tmp_path, name, fmt, subtype, channels, rate):
    sf.write(tmp_path / name, tone(1.0, rate, channels), rate, format=fmt, subtype=subtype)
    wave = load_audio(tmp_path / name, RATE)
    assert wave.dtype == torch.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - RATE) < 0.06 * RATE  # compressed formats may pad a frame
    assert 0.2 < float(wave.abs().max()) < 0.45


def good_tree(small_corpus, tmp_path):
    """A copy of the small corpus's English and German audio with a manifest: 2 languages x 3 speakers."""
    root = tmp_path / "corpus"
    records = [json.loads(line) for line in (small_corpus / "manifest.jsonl").read_text().splitlines()]
    records = [r for r in records if r["language"] in ("en", "de")]
    for record in records:
        (root / record["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(small_corpus / record["path"], root / record["path"])
    return root, records


def write_manifest(root, records):
    with (root / "manifest.jsonl").open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def with_bad_files(small_corpus, tmp_path):
    root, records = good_tree(small_corpus, tmp_path)
    speaker = dict(records[0])
    bad = {
        "nan.wav": lambda p: sf.write(p, SAMPLE_FAULTS["nan.wav"][0](), RATE, subtype="FLOAT"),
        "silent.wav": lambda p: sf.write(p, np.zeros(8000), RATE),
        "empty.wav": lambda p: sf.write(p, np.zeros(0), RATE),
        "short.wav": lambda p: sf.write(p, tone(0.01), RATE),
        "text.wav": lambda p: p.write_text("not audio"),
        "vanished.wav": lambda p: None,  # listed in the manifest, deleted before the run
    }
    for name, make in bad.items():
        make(root / name)
        records.append(speaker | {"path": name})
    write_manifest(root, records)
    return root, sorted(bad)


def datamodule(root, **kwargs):
    return SERDataModule([ManifestCorpus(str(root))], batch_size=4, val_speakers=1, test_speakers=1, min_seconds=0.1, **kwargs)


def test_bad_files_stop_the_run_at_setup_each_named(small_corpus, tmp_path):
    root, bad = with_bad_files(small_corpus, tmp_path)
    with pytest.raises(AudioError) as error:
        datamodule(root).setup("fit")
    message = str(error.value)
    assert message.startswith(f"{len(bad)} bad audio file(s):")
    for name in bad:
        assert name in message, name
    assert "on_bad_audio: skip" in message


def test_skip_leaves_bad_files_out_and_lists_each_with_its_reason(small_corpus, tmp_path):
    root, bad = with_bad_files(small_corpus, tmp_path)
    dm = datamodule(root, on_bad_audio="skip")
    with pytest.warns(UserWarning, match=f"Left out {len(bad)} bad audio file"):
        dm.setup("fit")
    used = {u.path for dataset in dm.datasets.values() for u in dataset.utterances}
    assert not {str(root / name) for name in bad} & used and len(used) == 48
    reasons = {path.rsplit("/", 1)[-1]: reason for path, reason in dm.bad_audio.items()}
    assert sorted(reasons) == bad
    assert "NaN" in reasons["nan.wav"] and "silent" in reasons["silent.wav"] and "empty" in reasons["empty.wav"]
    assert (
        "shorter than the 0.1 s" in reasons["short.wav"] and "does not exist" in reasons["vanished.wav"] and "cannot be read" in reasons["text.wav"]
    )


def test_the_skip_report_is_written_beside_the_run(small_corpus, tmp_path):
    from ser_lightning.run_files import write_data_files

    root, bad = with_bad_files(small_corpus, tmp_path)
    dm = datamodule(root, on_bad_audio="skip")
    with pytest.warns(UserWarning, match="bad audio"):
        dm.setup("fit")
    assert tmp_path / "bad_audio.csv" in write_data_files(tmp_path, dm.record(), summary=False)
    with (tmp_path / "bad_audio.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["path"].rsplit("/", 1)[-1] for row in rows) == bad and all(row["reason"] for row in rows)


def test_samples_are_decoded_once_then_only_changed_files_again(small_corpus, tmp_path, monkeypatch):
    from ser_lightning.data import probe_cache

    root, records = good_tree(small_corpus, tmp_path)
    write_manifest(root, records)
    decoded = []
    real = probe_cache.decode
    monkeypatch.setattr(probe_cache, "decode", lambda path: decoded.append(path) or real(path))
    datamodule(root).setup("fit")
    assert len(decoded) == len(records)
    decoded.clear()
    datamodule(root).setup("fit")
    assert decoded == []
    victim = root / records[0]["path"]
    sf.write(victim, SAMPLE_FAULTS["nan.wav"][0](), RATE, subtype="FLOAT")  # a file that goes bad between runs
    with pytest.raises(AudioError, match=f"{victim}: 10 NaN"):
        datamodule(root).setup("fit")
    assert decoded == [str(victim)]


def test_a_file_listed_twice_is_one_utterance(small_corpus, tmp_path):
    root, records = good_tree(small_corpus, tmp_path)
    write_manifest(root, records + records[:3])  # exact repeats: dropped with a count
    assert len(ManifestCorpus(str(root)).load()) == len(records)
    write_manifest(root, records + [records[0] | {"speaker": "de_m1"}])  # the same audio under a second speaker
    with pytest.raises(ManifestError, match=f"{records[0]['path']} is listed twice with speaker 'en_f1' and 'de_m1'"):
        ManifestCorpus(str(root)).load()
    write_manifest(root, records + [records[0] | {"label": "sad"}])
    with pytest.raises(ManifestError, match="listed twice with label 'angry' and 'sad'"):
        ManifestCorpus(str(root)).load()


def test_manifest_paths_may_not_leave_the_corpus_folder_unless_allowed(small_corpus, tmp_path):
    root, records = good_tree(small_corpus, tmp_path)
    outside = tmp_path / "elsewhere.wav"
    sf.write(outside, tone(), RATE)
    for path in (str(outside), "../elsewhere.wav"):
        write_manifest(root, records + [records[0] | {"path": path}])
        with pytest.raises(ManifestError, match="lies outside the corpus folder .*allow_outside_root"):
            ManifestCorpus(str(root)).parse()
        assert len(ManifestCorpus(str(root), allow_outside_root=True).parse()) == len(records) + 1
    moved = tmp_path / "manifests"
    moved.mkdir()
    shutil.move(root / "manifest.jsonl", moved / "manifest.jsonl")  # relative paths start from audio_root
    assert {u.path for u in ManifestCorpus(str(moved), audio_root=str(root), allow_outside_root=True).parse()} >= {str(root / records[0]["path"])}
