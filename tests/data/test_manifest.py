import json

import pytest

from ser_lightning.data.manifest import ManifestError, Utterance, read_manifest, write_manifest


def test_round_trip_keeps_fields_and_writes_relative_paths(tmp_path):
    utts = [
        Utterance(str(tmp_path / "a" / "x.wav"), "angry", "s1", "en", "demo", 1.5, 16000, {"gender": "f"}),
        Utterance("/elsewhere/y.wav", "sad", "s2", "de", "demo"),
    ]
    path = write_manifest(utts, tmp_path / "manifest.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["path"] == "a/x.wav"
    assert records[1]["path"] == "/elsewhere/y.wav"
    assert read_manifest(path) == utts


def test_unknown_fields_go_to_extra(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"path": "x.wav", "label": "sad", "speaker": "1", "language": "en", "corpus": "c", "valence": 2.5}) + "\n")
    (utt,) = read_manifest(path)
    assert utt.extra == {"valence": 2.5}
    assert utt.path == str(tmp_path / "x.wav")


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"path": "x.wav", "label": "sad", "speaker": "1", "language": "en", "corpus": "c"}\n{oops\n')
    with pytest.raises(ManifestError, match=r"m\.jsonl:2"):
        read_manifest(path)


def test_missing_field_is_named(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"path": "x.wav", "label": "sad", "language": "en", "corpus": "c"}) + "\n")
    with pytest.raises(ManifestError, match="speaker"):
        read_manifest(path)


def test_missing_manifest_is_named(tmp_path):
    with pytest.raises(ManifestError, match="nothing.jsonl"):
        read_manifest(tmp_path / "nothing.jsonl")


def test_bad_duration_names_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"path": "x.wav", "label": "sad", "speaker": "1", "language": "en", "corpus": "c", "duration": "n/a"}) + "\n")
    with pytest.raises(ManifestError, match=r"m\.jsonl:1.*duration"):
        read_manifest(path)


def test_symlinked_audio_keeps_a_relative_path(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "blob").write_bytes(b"x")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.wav").symlink_to(store / "blob")
    path = write_manifest([Utterance(str(corpus / "a.wav"), "sad", "s", "en", "c")], corpus / "manifest.jsonl")
    assert json.loads(path.read_text())["path"] == "a.wav"
