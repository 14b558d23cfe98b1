"""Each parser against a miniature of its corpus as distributed: exact records, distractors never taken, variants."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ser_lightning.data import CORPORA, CREMAD, EMOVO, ESD, IEMOCAP, RAVDESS, SAVEE, TESS, URDU, EmoDB, ManifestError, ShEMO, get_corpus

from .trees import make_cremad, make_emovo, make_savee, make_shemo, wav


def rows(utterances, root: Path, *keys: str) -> list[tuple]:
    """(path under root, label, speaker, language, *extra[key]) per record, sorted."""
    return sorted((Path(u.path).relative_to(root).as_posix(), u.label, u.speaker, u.language, *(u.extra.get(k) for k in keys)) for u in utterances)


def test_registry_names_the_ten_corpora():
    assert sorted(CORPORA) == ["cremad", "emodb", "emovo", "esd", "iemocap", "ravdess", "savee", "shemo", "tess", "urdu"]
    assert get_corpus("EmoDB") is EmoDB
    with pytest.raises(ValueError, match="choose one of"):
        get_corpus("berlin")


def test_iemocap_records(trees):
    utterances = IEMOCAP(str(trees["iemocap"])).parse()
    assert {u.corpus for u in utterances} == {"iemocap"} and len(utterances) == 5 * 8 + 4
    session1 = [u for u in utterances if u.extra["session"] == 1]
    assert rows(session1, trees["iemocap"], "code", "gender", "improvised") == [
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav", "neutral", "Ses01F", "en", "neu", "f", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F001.wav", "excited", "Ses01F", "en", "exc", "f", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F002.wav", "happy", "Ses01F", "en", "hap", "f", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F003.wav", "sad", "Ses01F", "en", "sad", "f", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav", "angry", "Ses01M", "en", "ang", "m", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav", "sad", "Ses01M", "en", "sad", "m", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M002.wav", "neutral", "Ses01M", "en", "neu", "m", True),
        ("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M003.wav", "frustrated", "Ses01M", "en", "fru", "m", True),
        # the dialog is Ses01M (recorded with the male actor leading), but F000 is spoken by the female actor
        ("Session1/sentences/wav/Ses01M_script01_1/Ses01M_script01_1_F000.wav", "angry", "Ses01F", "en", "ang", "f", False),
        ("Session1/sentences/wav/Ses01M_script01_1/Ses01M_script01_1_F001.wav", "other", "Ses01F", "en", "oth", "f", False),
        ("Session1/sentences/wav/Ses01M_script01_1/Ses01M_script01_1_M000.wav", "no_agreement", "Ses01M", "en", "xxx", "m", False),
        ("Session1/sentences/wav/Ses01M_script01_1/Ses01M_script01_1_M001.wav", "surprise", "Ses01M", "en", "sur", "m", False),
    ]
    first = next(u for u in utterances if u.path.endswith("Ses03F_impro01_M001.wav"))
    assert first.speaker == "Ses03M" and first.label == "sad"
    assert first.extra == {
        "code": "sad",
        "gender": "m",
        "session": 3,
        "improvised": True,
        "dialog": "Ses03F_impro01",
        "valence": 2.5,
        "activation": 3.0,
        "dominance": 3.5,
    }
    assert sorted({u.speaker for u in utterances}) == [f"Ses0{n}{g}" for n in range(1, 6) for g in "FM"]
    assert all(Path(u.path).is_file() and "/sentences/wav/" in u.path for u in utterances)  # no dialogue WAVs, no hidden files


def test_emodb_records(trees):
    utterances = EmoDB(str(trees["emodb"])).parse()
    assert len(utterances) == 43 and {u.language for u in utterances} == {"de"}
    assert rows([u for u in utterances if u.speaker in ("03", "08", "09")], trees["emodb"], "code", "gender", "text") == [
        ("wav/03a01Wa.wav", "angry", "03", "de", "W", "m", "a01"),
        ("wav/03a02Fa.wav", "happy", "03", "de", "F", "m", "a02"),
        ("wav/03a04Lb.wav", "boredom", "03", "de", "L", "m", "a04"),
        ("wav/03b01Na.wav", "neutral", "03", "de", "N", "m", "b01"),
        ("wav/03b02Ta.wav", "sad", "03", "de", "T", "m", "b02"),
        ("wav/08a01Wa.wav", "angry", "08", "de", "W", "f", "a01"),
        ("wav/08a02Fa.wav", "happy", "08", "de", "F", "f", "a02"),
        ("wav/08a05Ea.wav", "disgust", "08", "de", "E", "f", "a05"),
        ("wav/08b01Na.wav", "neutral", "08", "de", "N", "f", "b01"),
        ("wav/08b02Ta.wav", "sad", "08", "de", "T", "f", "b02"),
        ("wav/09a01Wa.wav", "angry", "09", "de", "W", "f", "a01"),
        ("wav/09a02Fa.wav", "happy", "09", "de", "F", "f", "a02"),
        ("wav/09b01Na.wav", "neutral", "09", "de", "N", "f", "b01"),
        ("wav/09b02Ta.wav", "sad", "09", "de", "T", "f", "b02"),
        ("wav/09b03Aa.wav", "fear", "09", "de", "A", "f", "b03"),
    ]
    genders = {u.speaker: u.extra["gender"] for u in utterances}
    assert genders == {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}


@pytest.mark.parametrize("nest", ["EMOVO", "data", ""])
def test_emovo_records_in_nested_copies(trees, tmp_path, nest):
    root = trees["emovo"] if nest == "EMOVO" else make_emovo(tmp_path, nest=nest)
    utterances = EMOVO(str(root)).parse()
    corpus = root / nest if nest else root
    assert len(utterances) == 27 and Counter(u.speaker for u in utterances) == {"f1": 5, "f2": 4, "f3": 4, "m1": 5, "m2": 5, "m3": 4}
    assert rows([u for u in utterances if u.speaker in ("f1", "m2")], corpus, "code", "gender", "sentence") == [
        ("f1/gio-f1-b1.wav", "happy", "f1", "it", "gio", "f", "b1"),
        ("f1/neu-f1-b1.wav", "neutral", "f1", "it", "neu", "f", "b1"),
        ("f1/pau-f1-l1.wav", "fear", "f1", "it", "pau", "f", "l1"),
        ("f1/rab-f1-b1.wav", "angry", "f1", "it", "rab", "f", "b1"),
        ("f1/tri-f1-b1.wav", "sad", "f1", "it", "tri", "f", "b1"),
        ("m2/gio-m2-b1.wav", "happy", "m2", "it", "gio", "m", "b1"),
        ("m2/neu-m2-b1.wav", "neutral", "m2", "it", "neu", "m", "b1"),
        ("m2/rab-m2-b1.wav", "angry", "m2", "it", "rab", "m", "b1"),
        ("m2/sor-m2-d2.wav", "surprise", "m2", "it", "sor", "m", "d2"),
        ("m2/tri-m2-b1.wav", "sad", "m2", "it", "tri", "m", "b1"),
    ]


def test_urdu_records(trees):
    utterances = URDU(str(trees["urdu"])).parse()
    assert len(utterances) == 25 and {u.language for u in utterances} == {"ur"}
    assert Counter(u.speaker for u in utterances) == {"SM5": 8, "SM1": 3, "SM24": 3, "SF1": 2, "SF10": 2, "SM2": 2, "SM23": 2, "SM3": 2, "SF9": 1}
    assert rows([u for u in utterances if u.speaker in ("SM3", "SF1", "SF9")], trees["urdu"], "code", "gender", "file") == [
        ("Happy/SF1_F1_H01.wav", "happy", "SF1", "ur", "Happy", "f", "F1"),
        ("Happy/SF1_F2_H02.wav", "happy", "SF1", "ur", "Happy", "f", "F2"),
        ("Happy/SM3_F1_H053.wav", "happy", "SM3", "ur", "Happy", "m", "F1"),
        ("Neutral/SF9_F1_N01.wav", "neutral", "SF9", "ur", "Neutral", "f", "F1"),
        ("Neutral/SM3_F1_N021.wav", "neutral", "SM3", "ur", "Neutral", "m", "F1"),
    ]
    assert Counter(u.label for u in utterances) == {"neutral": 8, "sad": 7, "angry": 5, "happy": 5}


def test_ravdess_records_skip_song_and_duplicates(trees):
    utterances = RAVDESS(str(trees["ravdess"])).parse()
    assert len(utterances) == 24 * 3 + 12 + 2 and len({Path(u.path).name for u in utterances}) == len(utterances)
    assert {u.extra["channel"] for u in utterances} == {"speech"}
    actor1 = [u for u in utterances if u.speaker == "01"]
    assert sorted((Path(u.path).name, u.label, u.extra["gender"], u.extra["intensity"]) for u in actor1) == [
        ("03-01-01-01-01-01-01.wav", "neutral", "m", "normal"),
        ("03-01-02-01-01-01-01.wav", "calm", "m", "normal"),
        ("03-01-03-01-01-01-01.wav", "happy", "m", "normal"),
        ("03-01-04-02-02-02-01.wav", "sad", "m", "strong"),
        ("03-01-05-01-01-01-01.wav", "angry", "m", "normal"),
        ("03-01-08-02-01-01-01.wav", "surprise", "m", "strong"),
    ]
    actor2 = next(u for u in utterances if u.path.endswith("03-01-04-02-02-02-02.wav"))
    assert actor2.speaker == "02" and actor2.extra == {
        "code": "04",
        "gender": "f",
        "channel": "speech",
        "intensity": "strong",
        "statement": "02",
        "repetition": "02",
    }
    with_song = RAVDESS(str(trees["ravdess"]), include_song=True).parse()
    songs = sorted((Path(u.path).name, u.label, u.extra["channel"]) for u in with_song if u.extra["channel"] == "song")
    assert songs == [("03-02-03-01-01-01-01.wav", "happy", "song"), ("03-02-03-01-01-01-02.wav", "happy", "song")]


def test_cremad_records_with_and_without_demographics(trees, tmp_path):
    utterances = CREMAD(str(trees["cremad"])).parse()
    assert len(utterances) == 42 and {u.language for u in utterances} == {"en"}
    assert rows([u for u in utterances if u.speaker == "1001"], trees["cremad"], "code", "gender", "sentence", "level") == [
        ("AudioWAV/1001_DFA_ANG_HI.wav", "angry", "1001", "en", "ANG", "m", "DFA", "HI"),
        ("AudioWAV/1001_IEO_HAP_MD.wav", "happy", "1001", "en", "HAP", "m", "IEO", "MD"),
        ("AudioWAV/1001_IOM_DIS_XX.wav", "disgust", "1001", "en", "DIS", "m", "IOM", "XX"),
        ("AudioWAV/1001_ITS_SAD_LO.wav", "sad", "1001", "en", "SAD", "m", "ITS", "LO"),
        ("AudioWAV/1001_TIE_NEU_XX.wav", "neutral", "1001", "en", "NEU", "m", "TIE", "XX"),
    ]
    genders = {u.speaker: u.extra["gender"] for u in utterances}
    assert sorted(s for s, g in genders.items() if g == "f") == ["1002", "1003", "1004", "1007", "1008"] and len(genders) == 10
    bare = CREMAD(str(make_cremad(tmp_path, demographics=False))).parse()
    assert len(bare) == 42 and not any("gender" in u.extra for u in bare)


@pytest.mark.parametrize("layout", ["AudioData", "ALL"])
def test_savee_records_in_both_layouts(trees, tmp_path, layout):
    root = trees["savee"] if layout == "AudioData" else make_savee(tmp_path, layout="ALL")
    utterances = SAVEE(str(root)).parse()
    assert len(utterances) == 32 and Counter(u.speaker for u in utterances) == {"DC": 8, "JE": 8, "JK": 8, "KL": 8}
    assert sorted((u.label, u.extra["code"], u.extra["sentence"]) for u in utterances if u.speaker == "JK") == [
        ("angry", "a", "01"),
        ("disgust", "d", "01"),
        ("fear", "f", "01"),
        ("happy", "h", "01"),
        ("neutral", "n", "01"),
        ("neutral", "n", "02"),
        ("sad", "sa", "01"),
        ("surprise", "su", "01"),
    ]
    assert {u.extra["gender"] for u in utterances} == {"m"} and {u.language for u in utterances} == {"en"}


def test_tess_records_despite_folder_spellings(trees):
    corpus = TESS(str(trees["tess"].parent))  # the download folder: the data folder is found one level down
    utterances = corpus.parse()
    assert len(utterances) == 55 and Counter(u.speaker for u in utterances) == {"OAF": 26, "YAF": 29} and not corpus.skipped
    assert Counter(u.label for u in utterances if u.speaker == "OAF") == {
        "angry": 4,
        "fear": 5,
        "happy": 4,
        "neutral": 5,
        "pleasant_surprise": 4,
        "sad": 4,
    }
    odd = {Path(u.path).name: (u.speaker, u.label) for u in utterances if u.extra["word"] in ("bite", "germ", "food")}
    assert odd == {"OA_bite_neutral.wav": ("OAF", "neutral"), "YAF_germ_angry.wav": ("YAF", "angry"), "OAF_food_fear.wav": ("OAF", "fear")}
    loaded = {Path(u.path).name: u.sample_rate for u in corpus.load(check_samples=True) if u.extra["word"] in ("germ", "food")}
    assert loaded == {"YAF_germ_angry.wav": 24414, "OAF_food_fear.wav": 96000}  # AIFF behind .wav and 96 kHz: read, not refused
    assert rows([u for u in utterances if u.extra["word"] == "bath" and u.speaker == "YAF"], trees["tess"], "code", "gender", "word") == [
        ("YAF_angry/YAF_bath_angry.wav", "angry", "YAF", "en", "angry", "f", "bath"),
        ("YAF_disgust/YAF_bath_disgust.wav", "disgust", "YAF", "en", "disgust", "f", "bath"),
        ("YAF_fear/YAF_bath_fear.wav", "fear", "YAF", "en", "fear", "f", "bath"),
        ("YAF_happy/YAF_bath_happy.wav", "happy", "YAF", "en", "happy", "f", "bath"),
        ("YAF_neutral/YAF_bath_neutral.wav", "neutral", "YAF", "en", "neutral", "f", "bath"),
        ("YAF_pleasant_surprised/YAF_bath_ps.wav", "pleasant_surprise", "YAF", "en", "ps", "f", "bath"),
        ("YAF_sad/YAF_bath_sad.wav", "sad", "YAF", "en", "sad", "f", "bath"),
    ]


def test_tess_emotion_suffix_is_case_insensitive(tmp_path):
    wav(tmp_path / "OAF_Pleasant_surprise" / "OAF_back_PS.wav", 24414)
    wav(tmp_path / "OAF_Fear" / "OAF_back_Fear.wav", 24414)
    assert sorted(u.label for u in TESS(str(tmp_path)).parse()) == ["fear", "pleasant_surprise"]


@pytest.mark.parametrize("layout", ["folders", "flat"])
def test_shemo_records_in_both_layouts(trees, tmp_path, layout):
    root = trees["shemo"] if layout == "folders" else make_shemo(tmp_path, layout="flat")
    utterances = ShEMO(str(root)).parse()
    assert len(utterances) == 34 and {u.language for u in utterances} == {"fa"}
    assert sorted({u.speaker for u in utterances}) == ["F01", "F02", "F03", "F04", "M01", "M02", "M03", "M12"]
    folder = "female/" if layout == "folders" else ""
    assert rows([u for u in utterances if u.speaker == "F01"], root, "code", "gender") == [
        (f"{folder}F01A01.wav", "angry", "F01", "fa", "A", "f"),
        (f"{folder}F01H02.wav", "happy", "F01", "fa", "H", "f"),
        (f"{folder}F01N03.wav", "neutral", "F01", "fa", "N", "f"),
        (f"{folder}F01S04.wav", "sad", "F01", "fa", "S", "f"),
        (f"{folder}F01W05.wav", "surprise", "F01", "fa", "W", "f"),
    ]
    assert next(u for u in utterances if u.path.endswith("M12F06.wav")).label == "fear"


def test_esd_records_with_split_releases_and_languages(trees):
    utterances = ESD(str(trees["esd"].parent)).parse()
    assert len(utterances) == 18 * 5 + 2 * 10
    assert Counter(u.language for u in utterances) == {"zh": 55, "en": 55}
    assert {u.speaker for u in utterances if u.language == "zh"} == {f"{n:04d}" for n in range(1, 11)}
    assert rows([u for u in utterances if u.speaker in ("0011", "0012")], trees["esd"], "code", "subset") == [
        ("0011/Angry/test/0011_000002.wav", "angry", "0011", "en", "Angry", "test"),
        ("0011/Angry/train/0011_000001.wav", "angry", "0011", "en", "Angry", "train"),
        ("0011/Happy/test/0011_000352.wav", "happy", "0011", "en", "Happy", "test"),
        ("0011/Happy/train/0011_000351.wav", "happy", "0011", "en", "Happy", "train"),
        ("0011/Neutral/test/0011_000702.wav", "neutral", "0011", "en", "Neutral", "test"),
        ("0011/Neutral/train/0011_000701.wav", "neutral", "0011", "en", "Neutral", "train"),
        ("0011/Sad/test/0011_001052.wav", "sad", "0011", "en", "Sad", "test"),
        ("0011/Sad/train/0011_001051.wav", "sad", "0011", "en", "Sad", "train"),
        ("0011/Surprise/test/0011_001402.wav", "surprise", "0011", "en", "Surprise", "test"),
        ("0011/Surprise/train/0011_001401.wav", "surprise", "0011", "en", "Surprise", "train"),
        ("0012/Angry/0012_000001.wav", "angry", "0012", "en", "Angry", None),
        ("0012/Happy/0012_000351.wav", "happy", "0012", "en", "Happy", None),
        ("0012/Neutral/0012_000701.wav", "neutral", "0012", "en", "Neutral", None),
        ("0012/Sad/0012_001051.wav", "sad", "0012", "en", "Sad", None),
        ("0012/Surprised/0012_001401.wav", "surprise", "0012", "en", "Surprised", None),
    ]
    english = ESD(str(trees["esd"]), languages=["en"]).load(check_audio=False)
    assert {u.language for u in english} == {"en"} and len(english) == 55


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_a_folder_with_the_wrong_layout_says_what_was_expected_and_found(tmp_path, name):
    wrong = tmp_path / "downloads"
    (wrong / "some_other_corpus").mkdir(parents=True)
    (wrong / "notes.txt").write_text("x")
    with pytest.raises(ManifestError, match=r"expected .*found .*notes\.txt, some_other_corpus/"):
        CORPORA[name](str(wrong)).parse()


BAD_FILES = {
    "emodb": ("wav/03a01Xa.wav", "03a01Xa.wav"),
    "emovo": ("f1/xyz-f1-b1.wav", "xyz-f1-b1.wav"),
    "ravdess": ("Actor_01/03-01-09-01-01-01-01.wav", "03-01-09-01-01-01-01.wav"),
    "cremad": ("AudioWAV/1001_DFA_XYZ_XX.wav", "1001_DFA_XYZ_XX.wav"),
    "savee": ("AudioData/DC/x01.wav", "x01.wav"),
    "tess": ("OAF_bored/OAF_back_bored.wav", "OAF_back_bored.wav"),
    "shemo": ("female/F01X01.wav", "F01X01.wav"),
    "esd": ("0011/Fear/0011_000001.wav", "Fear"),
    "esd_subset": ("0011/Angry/dev/0011_000001.wav", "dev"),
    "urdu": ("Angry/angry_clip.wav", "angry_clip.wav"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_an_unknown_code_or_name_is_skipped_with_its_reason_or_refused_when_strict(tmp_path, name):
    relative, named = BAD_FILES[name]
    wav(tmp_path / relative, 16000)
    corpus = CORPORA[name.split("_")[0]](str(tmp_path))
    assert corpus.parse() == [] and len(corpus.skipped) == 1
    ((path, reason),) = corpus.skipped.items()
    assert named in path and reason
    with pytest.raises(ManifestError, match=f"{named}.*set strict: false to skip such files|{named}.*unknown"):
        CORPORA[name.split("_")[0]](str(tmp_path), strict=True).parse()


def test_an_unknown_iemocap_code_names_the_label_file_and_line(tmp_path):
    table = tmp_path / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    table.parent.mkdir(parents=True)
    table.write_text(
        "% header\n\n[1.0000 - 2.0000]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n[3.0000 - 4.0000]\tSes01F_impro01_M000\tjoy\t[2.5, 2.5, 2.5]\n"
    )
    with pytest.raises(ManifestError, match=r"Ses01F_impro01\.txt:4: unknown iemocap emotion code 'joy'"):
        IEMOCAP(str(tmp_path), strict=True).parse()
    corpus = IEMOCAP(str(tmp_path))
    assert [u.label for u in corpus.parse()] == ["neutral"] and list(corpus.skipped) == [f"{table}:4"]


def test_a_tess_file_whose_name_contradicts_its_folder_is_skipped_and_listed(tmp_path):
    wav(tmp_path / "OAF_angry" / "OAF_back_angry.wav", 24414)
    wav(tmp_path / "OAF_angry" / "YAF_back_angry.wav", 24414)  # YAF's name in OAF's folder: the speaker is ambiguous
    wav(tmp_path / "OAF_angry" / "back.wav", 24414)
    corpus = TESS(str(tmp_path))
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\) that do not follow the corpus's naming scheme.*skipped_files.csv"):
        assert [Path(u.path).name for u in corpus.load()] == ["OAF_back_angry.wav"]
    assert {Path(p).name: reason for p, reason in corpus.skipped.items()} == {
        "YAF_back_angry.wav": "its speaker field 'YAF' contradicts its folder OAF_angry",
        "back.wav": "not a TESS file name (<speaker>_<word>_<emotion>.wav, e.g. OAF_back_angry.wav)",
    }


def test_flat_copies_are_read_as_the_release(tmp_path):
    """Copies that drop a folder level: EmoDB/*.wav without wav/, CREMA-D without AudioWAV/, SAVEE's DC/ ... without AudioData/."""
    wav(tmp_path / "EmoDB" / "03a01Fa.wav", 16000)
    wav(tmp_path / "EmoDB" / "08b02Ta.wav", 16000)
    assert sorted((u.speaker, u.label) for u in EmoDB(str(tmp_path / "EmoDB")).parse()) == [("03", "happy"), ("08", "sad")]
    wav(tmp_path / "crema" / "1001_DFA_ANG_XX.wav", 16000)
    assert [(u.speaker, u.label) for u in CREMAD(str(tmp_path / "crema")).parse()] == [("1001", "angry")]
    for speaker in ("DC", "JE"):
        wav(tmp_path / "savee" / speaker / "sa01.wav", 44100)
    assert sorted((u.speaker, u.label) for u in SAVEE(str(tmp_path / "savee")).parse()) == [("DC", "sad"), ("JE", "sad")]


def test_the_datamodule_lists_the_skipped_files_beside_the_run(trees, tmp_path):
    import csv
    import shutil

    from ser_lightning.data import TESSDataModule
    from ser_lightning.run_files import write_data_files

    root = tmp_path / "tess"
    shutil.copytree(trees["tess"], root)
    wav(root / "OAF_angry" / "OAF_angry_take2.wav.wav", 24414)  # no word field: skipped
    dm = TESSDataModule(str(root), batch_size=4)
    with pytest.warns(UserWarning, match="skipped 1 file"):
        dm.setup("fit")
    assert tmp_path / "run" / "skipped_files.csv" in write_data_files(tmp_path / "run", dm.record())
    with (tmp_path / "run" / "skipped_files.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(row["path"]).name for row in rows] == ["OAF_angry_take2.wav.wav"] and "not a TESS file name" in rows[0]["reason"]
    with pytest.raises(ManifestError, match=r"OAF_angry_take2.wav.wav: not a TESS file name .*set strict: false"):
        TESSDataModule(str(root), strict=True).setup("fit")
