"""EmoBox's published folds: matched file by file against a local copy, validation from the train list only, refusals in one line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ser_lightning.data import EmoBoxFolds, EmoDB, ManifestCorpus, SERDataModule, emobox_folds
from ser_lightning.data.emobox import emobox_word
from ser_lightning.data.labels import build_label_space
from ser_lightning.data.manifest import ManifestError
from ser_lightning.data.protocols import PROTOCOLS

from .corpora.trees import wav

SPEAKERS = ("03", "08", "09", "10")
# EMO-DB letter -> EmoBox's word for it (its spelling, "boredem" included)
EMOTIONS = {"W": "anger", "F": "happy", "N": "neutral", "T": "sad", "L": "boredem"}
TEXTS = ("a01", "a02")


def stem(speaker: str, text: str, letter: str) -> str:
    return f"{speaker}{text}{letter}a"


def write_partition(path: Path, stems: list[str], labels: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"key": f"emodb-{s}", "wav": f"downloads/emodb/wav/{s}.wav", "emo": (labels or {}).get(s, EMOTIONS[s[5]]), "channel": 1} for s in stems]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def emobox(tmp_path) -> tuple[Path, Path, dict[int, dict[str, list[str]]]]:
    """A miniature EMO-DB copy (4 speakers x 5 emotions x 2 texts) and EmoBox partition files for two folds.

    Fold 1 tests on text a02 of speakers 08 and 09, who also train on text a01 (a speaker-dependent fold, as EmoBox's
    EMO-DB folds are); fold 2 tests on speaker 10 alone. Speaker 10's a02 files are in neither list of fold 1.
    """
    root = tmp_path / "emodb"
    for speaker in SPEAKERS:
        for text in TEXTS:
            for letter in EMOTIONS:
                wav(root / "wav" / f"{stem(speaker, text, letter)}.wav", 16000)
    every = [stem(s, t, e) for s in SPEAKERS for t in TEXTS for e in EMOTIONS]
    folds = {
        1: {
            "test": [stem(s, "a02", e) for s in ("08", "09") for e in EMOTIONS],
            "train": [stem(s, "a01", e) for s in SPEAKERS for e in EMOTIONS] + [stem("03", "a02", e) for e in EMOTIONS],
        },
        2: {"test": [s for s in every if s.startswith("10")], "train": [s for s in every if not s.startswith("10")]},
    }
    data = tmp_path / "EmoBox" / "data"
    for fold, parts in folds.items():
        for part, stems in parts.items():
            write_partition(data / "emodb" / f"fold_{fold}" / f"emodb_{part}_fold_{fold}.jsonl", stems)
    return root, data, folds


def loader(space: str = "native"):
    labels = build_label_space(space, native=EmoDB("unused").native_labels())
    return lambda corpora: [u for corpus in corpora for u in labels.apply(corpus.load(check_samples=False), source=repr(corpus))[0]]


def stems_of(utterances) -> set[str]:
    return {Path(u.path).stem for u in utterances}


def test_the_plan_tests_on_exactly_the_test_list_and_validates_from_the_train_list_only(emobox):
    root, data, folds = emobox
    plan = EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1)
    split = plan.split(loader(), seed=0)
    assert stems_of(split.test) == set(folds[1]["test"])
    assert stems_of(split.train) | stems_of(split.val) == set(folds[1]["train"]) and not stems_of(split.train) & stems_of(split.val)
    assert split.val and {u.speaker for u in split.val}.isdisjoint({u.speaker for u in split.train})  # whole training speakers
    assert {u.role for u in split.train + split.val + split.test} == {"source"}
    assert "10a02" not in "".join(stems_of(split.train + split.val + split.test))  # listed nowhere in fold 1: left out
    assert plan.summary(split, [])["emobox"] | {"files": None} == {
        "name": "emodb",
        "fold": 1,
        "files": None,
        "listed": {"train": 25, "test": 10},
        "matched": {"train": 25, "test": 10},
        "left_out_by_label_space_or_bad_audio": 0,
        "local_files_not_listed": 5,
        "label_disagreements": 0,
        "val_by": "speaker",
        "test_speakers": 2,
        "test_speakers_in_training": 2,
    }
    assert any("speaker-dependent: 2 of its 2 test speakers also train" in note for note in split.notes)


def test_a_speaker_independent_fold_is_reported_as_such_and_the_validation_speaker_follows_the_seed(emobox):
    root, data, _ = emobox
    plan = EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=2)
    first, again = plan.split(loader(), seed=0), plan.split(loader(), seed=0)
    assert {u.speaker for u in first.test} == {"10"} and plan.matching["test_speakers_in_training"] == 0
    assert any("speaker-independent" in note for note in first.notes)
    assert stems_of(first.val) == stems_of(again.val)
    drawn = {frozenset(u.speaker for u in plan.split(loader(), seed=seed).val) for seed in range(8)}
    assert len(drawn) > 1 and all(len(speakers) == 1 and "10" not in speakers for speakers in drawn)


def test_utterance_validation_takes_a_share_of_every_class_of_the_train_list(emobox):
    root, data, folds = emobox
    split = EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=2, val_by="utterance", val_fraction=0.2).split(loader(), seed=0)
    assert Counter(u.label for u in split.val) == Counter({label: 1 for label in ("angry", "boredom", "happy", "neutral", "sad")})
    assert stems_of(split.val) <= set(folds[2]["train"]) and stems_of(split.test) == set(folds[2]["test"])


def test_categorical4_leaves_out_listed_files_outside_it_and_counts_them(emobox):
    root, data, _ = emobox
    plan = EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1)
    split = plan.split(loader("categorical4"), seed=0)
    assert {u.label for u in split.train + split.val + split.test} == {"angry", "happy", "neutral", "sad"}
    assert len(split.test) == 8 and plan.matching["left_out_by_label_space_or_bad_audio"] == 7  # boredom: 2 test, 5 train files


def test_a_listed_file_missing_from_the_local_copy_is_refused_naming_the_list(emobox):
    root, data, _ = emobox
    (root / "wav" / f"{stem('09', 'a02', 'T')}.wav").unlink()
    with pytest.raises(ManifestError, match=r"emodb_test_fold_1\.jsonl: 1 of its 10 files are not in the local copy .*09a02Ta.*whole emodb corpus"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1).split(loader(), seed=0)


def test_a_fold_emobox_does_not_publish_is_refused_listing_the_folds(emobox):
    root, data, _ = emobox
    assert emobox_folds(data, "emodb") == [1, 2]
    with pytest.raises(ManifestError, match=r"fold_3/emodb_train_fold_3\.jsonl does not exist; .* are \[1, 2\]: set `fold`"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=3).split(loader(), seed=0)
    with pytest.raises(ValueError, match="1 = fold_1"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=0)


def test_partitions_may_be_the_repository_the_data_folder_or_the_corpus_folder(emobox):
    root, data, folds = emobox
    for partitions in (data.parent, data, data / "emodb"):
        split = EmoBoxFolds(EmoDB(str(root)), partitions=str(partitions), fold=1).split(loader(), seed=0)
        assert stems_of(split.test) == set(folds[1]["test"])
    with pytest.raises(ManifestError, match="No EmoBox folds of 'emovo' under .*set `partitions` to EmoBox's data/ folder, or `name`"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), name="emovo").split(loader(), seed=0)
    with pytest.raises(ManifestError, match="does not exist; set `partitions`"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data / "nowhere")).split(loader(), seed=0)


def test_a_broken_partition_line_is_refused_naming_file_and_line(emobox):
    root, data, _ = emobox
    path = data / "emodb" / "fold_1" / "emodb_test_fold_1.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"emodb_test_fold_1\.jsonl:11 is not JSON"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1).split(loader(), seed=0)


def test_a_file_in_both_lists_is_refused(emobox):
    root, data, folds = emobox
    write_partition(data / "emodb" / "fold_1" / "emodb_train_fold_1.jsonl", folds[1]["train"] + folds[1]["test"][:1])
    with pytest.raises(ManifestError, match="both list .*08a02Wa"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1).split(loader(), seed=0)


def test_a_label_that_disagrees_with_the_local_parser_is_counted_and_the_local_one_kept(emobox):
    root, data, folds = emobox
    write_partition(data / "emodb" / "fold_1" / "emodb_test_fold_1.jsonl", folds[1]["test"], labels={stem("08", "a02", "W"): "sad"})
    plan = EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1)
    split = plan.split(loader(), seed=0)
    assert plan.matching["label_disagreements"] == 1 and any("EmoBox 'sad', local 'angry'" in note for note in split.notes)
    assert next(u.label for u in split.test if Path(u.path).stem == "08a02Wa") == "angry"


def test_emobox_words_map_onto_the_toolkit_s_emotion_words():
    assert [emobox_word("emodb", w) for w in ("anger", "boredem", "Neutral", "fear")] == ["angry", "boredom", "neutral", "fear"]
    assert [emobox_word("urdu", w) for w in ("A", "H", "N", "S")] == ["angry", "happy", "neutral", "sad"]
    assert [emobox_word("emovo", w) for w in ("rab", "gio", "sor")] == ["angry", "happy", "surprise"]
    assert [emobox_word("ravdess", w) for w in ("Fearful", "Surprised", "Calm")] == ["fear", "surprise", "calm"]
    assert emobox_word("emodb", "Xyz") is None


def test_the_datamodule_serves_the_fold_with_native_classes_and_records_the_matching(emobox):
    root, data, _ = emobox
    module = SERDataModule(plan=EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1), label_space="native", check_samples=False)
    module.setup("fit")
    assert module.label_names == ["angry", "boredom", "disgust", "fear", "happy", "neutral", "sad"]  # EMO-DB's seven, as EmoBox uses
    assert len(module.datasets["test"]) == 10 and module.summary["emobox"]["test_speakers_in_training"] == 2


def printed_config(capsys, args: list[str]) -> dict:
    from ser_lightning.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_the_shipped_sweeps_run_every_published_fold_and_every_speaker_independent_fold(tmp_path, capsys):
    from ser_lightning.experiments.grid import expand
    from ser_lightning.experiments.sweep import load_sweep

    published = {"emodb": [1, 2, 3, 4, 5], "emovo": [1, 2, 3, 4, 5, 6], "urdu": [1], "ravdess": [1, 2, 3, 4, 5, 6]}  # EmoBox's data/ folders
    runs = {name: expand(load_sweep(name), cwd=tmp_path) for name in ("emobox_probes", "emobox_speaker_independent")}
    for name, specs in runs.items():
        assert {spec.point["model"] for spec in specs} == {"whisper_base", "whisper_tiny_en"} and load_sweep(name).report.replicates == ["fold"]
    emobox_points = {spec.point["fold"] for spec in runs["emobox_probes"]}
    assert emobox_points == {f"{corpus}-{fold}" for corpus, folds in published.items() for fold in folds}
    independent = {spec.point["fold"] for spec in runs["emobox_speaker_independent"]}
    assert independent == {f"{corpus}-{fold}" for corpus in published for fold in range(PROTOCOLS[corpus].folds)}

    emobox_run = next(s for s in runs["emobox_probes"] if s.point == {"model": "whisper_base", "fold": "emovo-4"})
    config = printed_config(capsys, emobox_run.args[1:])
    plan = config["data"]["init_args"]["plan"]
    assert plan["class_path"] == "ser_lightning.data.EmoBoxFolds" and plan["init_args"]["fold"] == 4
    assert plan["init_args"]["corpus"]["class_path"] == "ser_lightning.data.EMOVO" and config["data"]["init_args"]["label_space"] == "native"
    assert config["model"]["backbone"]["init_args"]["name_or_path"] == "pypi:base" and config["feature_cache"]["enabled"] is True

    independent_run = next(s for s in runs["emobox_speaker_independent"] if s.point == {"model": "whisper_tiny_en", "fold": "urdu-3"})
    config = printed_config(capsys, independent_run.args[1:])
    plan = config["data"]["init_args"]["plan"]
    assert plan["class_path"] == "ser_lightning.data.CorpusFolds" and plan["init_args"]["fold"] == 3 and "partitions" not in plan["init_args"]
    assert plan["init_args"]["corpus"]["class_path"] == "ser_lightning.data.URDU" and config["data"]["init_args"]["label_space"] == "native"
    assert config["model"]["backbone"]["init_args"]["name_or_path"] == "pypi:tiny.en"


def test_a_file_listed_twice_or_two_local_files_of_one_listed_name_are_refused(emobox):
    root, data, folds = emobox
    write_partition(data / "emodb" / "fold_2" / "emodb_test_fold_2.jsonl", folds[2]["test"] + folds[2]["test"][:1])
    with pytest.raises(ManifestError, match=r"emodb_test_fold_2\.jsonl lists 10a01wa twice"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=2).split(loader(), seed=0)
    records = [{"path": f"wav/{s}.wav", "label": "angry", "speaker": s[:2], "language": "de", "corpus": "emodb"} for s in ("08a02Wa", "09a02Wa")]
    records.append(records[0] | {"path": "copy/08a02Wa.wav"})
    wav(root / "copy" / "08a02Wa.wav", 16000)
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"emodb_train_fold_2\.jsonl lists 08a02Wa, and .* has 2 files of that name .*remove the copy"):
        EmoBoxFolds(ManifestCorpus(str(manifest)), partitions=str(data), fold=2, name="emodb").split(lambda corpora: [], seed=0)


def test_a_fold_left_empty_by_the_label_space_is_refused_naming_the_list(emobox):
    root, data, _ = emobox
    with pytest.raises(ManifestError, match=r"None of the files .*emodb_train_fold_1\.jsonl lists is left in the label space .*label_space: native"):
        EmoBoxFolds(EmoDB(str(root)), partitions=str(data), fold=1).split(lambda corpora: [], seed=0)
