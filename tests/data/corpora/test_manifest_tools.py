"""The manifest and stats commands, CSV manifests with a column mapping, and the header-probe cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ser_lightning.data.probe_cache as probe_cache
from ser_lightning.data import EmoDB, ManifestCorpus, ManifestError, SERDataModule, read_manifest
from ser_lightning.data.__main__ import main
from ser_lightning.data.audio import AudioError

from .trees import make_savee, wav


def test_manifest_command_writes_mapped_probed_records(trees, tmp_path, capsys):
    out = tmp_path / "out" / "emodb.jsonl"
    main(["manifest", "--corpus", "emodb", "--root", str(trees["emodb"]), "--label-space", "categorical4", "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"Wrote 40 emodb utterances (categorical4: angry, happy, neutral, sad) to {out}" in printed
    assert "Left out 3 utterances with labels outside categorical4: {'boredom': 1, 'disgust': 1, 'fear': 1}" in printed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    first = next(r for r in records if r["path"].endswith("03a01Wa.wav"))
    assert first == {
        "path": str(trees["emodb"] / "wav" / "03a01Wa.wav"),  # outside the manifest's folder: absolute
        "label": "angry",
        "speaker": "03",
        "language": "de",
        "corpus": "emodb",
        "duration": pytest.approx(0.3),
        "sample_rate": 16000,
        "extra": {"code": "W", "gender": "m", "text": "a01"},
    }
    assert all(Path(r["path"]).is_absolute() for r in records) and {r["label"] for r in records} == {"angry", "happy", "neutral", "sad"}


def test_manifest_paths_under_the_output_folder_are_relative(tmp_path, capsys):
    root = make_savee(tmp_path)
    main(
        [
            "manifest",
            "--corpus",
            "savee",
            "--root",
            str(root),
            "--label-space",
            "binary_valence",
            "--neutral-valence",
            "positive",
            "--out",
            str(tmp_path / "savee.jsonl"),
        ]
    )
    records = [json.loads(line) for line in (tmp_path / "savee.jsonl").read_text().splitlines()]
    assert records[0]["path"] == "savee_AudioData/AudioData/DC/a01.wav" and records[0]["label"] == "negative"
    assert sum(r["label"] == "positive" for r in records) == 4 * 3  # happy + two neutral per speaker
    assert "{'surprise': 4}" in capsys.readouterr().out
    assert {u.label for u in read_manifest(tmp_path / "savee.jsonl")} == {"negative", "positive"}


def test_stats_command_counts_labels_speakers_languages_genders_and_durations(trees, tmp_path, capsys):
    out = tmp_path / "iemocap.jsonl"
    main(["manifest", "--corpus", "iemocap", "--root", str(trees["iemocap"]), "--out", str(out)])
    capsys.readouterr()
    main(["stats", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "utterances: 36"
    assert lines[lines.index("label (4)") + 1].split() == ["happy", "10", "27.8%"]
    assert "speaker (10)" in lines and "language (1)" in lines and lines[lines.index("language (1)") + 1].split() == ["en", "36", "100.0%"]
    gender = lines.index("gender (2)")
    assert sorted(line.split()[0] for line in lines[gender + 1 : gender + 3]) == ["f", "m"]
    assert "hours: 0.003" in lines
    assert "duration (s): min 0.30  p10 0.30  p50 0.30  p90 0.30  p99 0.30  max 0.30" in lines
    assert "sample rate (Hz): 16000 x36" in lines


def test_manifest_command_reports_a_wrong_root_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["manifest", "--corpus", "emovo", "--root", str(tmp_path), "--out", str(tmp_path / "m.jsonl")])
    assert exit_info.value.code == 2
    assert "expected actor folders f1/" in capsys.readouterr().err and not (tmp_path / "m.jsonl").exists()


def test_csv_manifest_with_a_column_mapping(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        wav(tmp_path / "audio" / name, 16000)
    (tmp_path / "labels.csv").write_text(
        "file,emotion,actor,lang,gender\naudio/a.wav,angry,s1,ur,f\naudio/b.wav,sad,s2,ur,m\naudio/c.wav,happy,s3,ur,f\n"
    )
    corpus = ManifestCorpus(
        str(tmp_path / "labels.csv"),
        columns={"path": "file", "label": "emotion", "speaker": "actor", "language": "lang"},
        defaults={"corpus": "mine"},
    )
    first = corpus.parse()[0]
    assert (first.path, first.label, first.speaker, first.language, first.corpus, first.extra) == (
        str(tmp_path / "audio" / "a.wav"),
        "angry",
        "s1",
        "ur",
        "mine",
        {"gender": "f"},
    )
    assert corpus.native_labels() == ("angry", "happy", "sad")
    loaded = corpus.load()
    assert [u.duration for u in loaded] == pytest.approx([0.3] * 3)
    dm = SERDataModule(corpora=[corpus], label_space="native")
    assert dm.label_names == ["angry", "happy", "sad"]
    with pytest.raises(ManifestError, match=r"labels\.csv: the column mapping names \['speaker_id'\]"):
        ManifestCorpus(str(tmp_path / "labels.csv"), columns={"speaker": "speaker_id"}).parse()
    with pytest.raises(ManifestError, match=r"labels\.csv:2: record is missing required field\(s\) \['corpus'\]"):
        ManifestCorpus(str(tmp_path / "labels.csv"), columns={"path": "file", "label": "emotion", "speaker": "actor", "language": "lang"}).parse()


def test_jsonl_manifest_takes_the_same_mapping(tmp_path):
    wav(tmp_path / "x.wav", 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"wav": "x.wav", "emotion": "sad", "spk": "7"}) + "\n")
    (utt,) = ManifestCorpus(
        str(tmp_path / "m.jsonl"), columns={"path": "wav", "label": "emotion", "speaker": "spk"}, defaults={"language": "de", "corpus": "c"}
    ).parse()
    assert (utt.path, utt.label, utt.speaker, utt.language) == (str(tmp_path / "x.wav"), "sad", "7", "de")


@pytest.fixture()
def counted_probes(monkeypatch):
    calls: list[str] = []
    real = probe_cache.probe

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(probe_cache, "probe", counting)
    return calls


def test_a_second_load_reads_no_header_and_a_changed_file_is_probed_again(tmp_path, counted_probes, monkeypatch):
    monkeypatch.setenv("SER_LIGHTNING_CACHE", str(tmp_path / "cache"))
    for name in ("03a01Wa", "08a02Fa", "09b01Na"):
        wav(tmp_path / "emodb" / "wav" / f"{name}.wav", 16000)
    corpus = EmoDB(str(tmp_path / "emodb"))
    first = corpus.load()
    assert len(counted_probes) == 3
    assert corpus.load() == first and len(counted_probes) == 3
    cache_files = list((tmp_path / "cache" / "probe").glob("EmoDB-*.json"))
    assert len(cache_files) == 1 and not list((tmp_path / "emodb").rglob("*.json"))  # never inside the corpus
    wav(tmp_path / "emodb" / "wav" / "08a02Fa.wav", 16000, seconds=0.5)
    again = corpus.load()
    assert counted_probes[3:] == [str(tmp_path / "emodb" / "wav" / "08a02Fa.wav")]
    assert [u.duration for u in again] == pytest.approx([0.3, 0.5, 0.3])
    (tmp_path / "emodb" / "wav" / "09b01Na.wav").unlink()
    (tmp_path / "emodb" / "wav" / "03a01Wa.wav").write_bytes(b"RIFF broken")
    with pytest.raises(AudioError, match="03a01Wa.wav"):
        corpus.load()


def test_an_unwritable_cache_warns_and_still_loads(tmp_path, monkeypatch, counted_probes):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("SER_LIGHTNING_CACHE", str(blocker))
    wav(tmp_path / "emodb" / "wav" / "03a01Wa.wav", 16000)
    with pytest.warns(UserWarning, match="Could not write the probe cache"):
        (utt,) = EmoDB(str(tmp_path / "emodb")).load()
    assert utt.duration == pytest.approx(0.3)
