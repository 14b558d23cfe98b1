"""Miniature corpus trees with the real layouts, names and distractors of each distribution (0.3 s of noise per file).

Each ``make_<corpus>(base)`` writes under ``base`` and returns the folder a user would give as ``root``.
Distractors are files a parser must never take: whole-dialogue WAVs, annotation folders, transcripts,
hidden ``._*`` files, song files. The expected records are written out by hand in the tests.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

SECONDS = 0.3


def wav(path: Path, rate: int, seconds: float = SECONDS) -> Path:
    """Write ``seconds`` of seeded noise (16-bit PCM) at ``rate``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    sf.write(path, (0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate, subtype="PCM_16")
    return path


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def junk(path: Path) -> Path:
    """A macOS resource fork or other non-audio bytes under an audio-like name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x05\x16\x07 not audio")
    return path


# --- IEMOCAP ---------------------------------------------------------------------------------------------------

IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
# per session: the improvised dialog's utterances (suffix, code); session 1 adds a scripted dialog and the odd codes
IEMOCAP_IMPRO = [
    ("F000", "neu"),
    ("M000", "ang"),
    ("F001", "exc"),
    ("M001", "sad"),
    ("F002", "hap"),
    ("M002", "neu"),
    ("F003", "sad"),
    ("M003", "fru"),
]
IEMOCAP_SCRIPT = [("F000", "ang"), ("M000", "xxx"), ("F001", "oth"), ("M001", "sur")]


def _iemocap_block(utterance_id: str, code: str, start: float) -> str:
    return (
        f"[{start:.4f} - {start + 1.5:.4f}]\t{utterance_id}\t{code}\t[2.5000, 3.0000, 3.5000]\n"
        f"C-E2:\tNeutral;\t()\nC-E3:\tNeutral;\tFrustration;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"
    )


def _iemocap_dialog(session: Path, dialog: str, utterances: list[tuple[str, str]]) -> None:
    evaluation = session / "dialog" / "EmoEvaluation"
    blocks = [_iemocap_block(f"{dialog}_{suffix}", code, 2.0 * i) for i, (suffix, code) in enumerate(utterances)]
    text(evaluation / f"{dialog}.txt", IEMOCAP_HEADER + "".join(blocks))
    for suffix, _ in utterances:
        wav(session / "sentences" / "wav" / dialog / f"{dialog}_{suffix}.wav", 16000)
    wav(session / "dialog" / "wav" / f"{dialog}.wav", 16000, seconds=1.0)  # the whole dialogue: not an utterance
    text(session / "dialog" / "transcriptions" / f"{dialog}.txt", f"{dialog}_{utterances[0][0]} [006.2901-008.2357]: Excuse me.\n")
    # per-annotator folders hold lines that look like utterances: never read
    text(evaluation / "Categorical" / f"{dialog}_e2_cat.txt", f"{dialog}_F999 :Anger; ()\n[1.0000 - 2.0000]\t{dialog}_F999\tang\t[1.0, 1.0, 1.0]\n")
    text(evaluation / "Attribute" / f"{dialog}_e3_atr.txt", f"{dialog}_F000 :act 2; val 3; ()\n")
    text(evaluation / "Self-evaluation" / f"{dialog}.anvil", "<annotation/>\n")
    junk(evaluation / f"._{dialog}.txt")
    junk(session / "sentences" / "wav" / dialog / f"._{dialog}_{utterances[0][0]}.wav")


def make_iemocap(base: Path) -> Path:
    root = base / "IEMOCAP_full_release"
    for n in range(1, 6):
        session = root / f"Session{n}"
        _iemocap_dialog(session, f"Ses0{n}F_impro01", IEMOCAP_IMPRO)
        if n == 1:
            _iemocap_dialog(session, "Ses01M_script01_1", IEMOCAP_SCRIPT)
    text(root / "Documentation" / "README.txt", "IEMOCAP release\n")
    return root


# --- EMO-DB ----------------------------------------------------------------------------------------------------

EMODB_SPEAKERS = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")
EMODB_EXTRA = ("03a04Lb", "08a05Ea", "09b03Aa")


def emodb_names() -> list[str]:
    names = [f"{s}{text}{code}a" for s in EMODB_SPEAKERS for text, code in (("a01", "W"), ("a02", "F"), ("b01", "N"), ("b02", "T"))]
    return sorted(names + list(EMODB_EXTRA))


def make_emodb(base: Path) -> Path:
    root = base / "emodb"
    for name in emodb_names():
        wav(root / "wav" / f"{name}.wav", 16000)
        text(root / "lablaut" / f"{name}.lab", "0.0 h#\n")
        text(root / "labsilb" / f"{name}.lab", "0.0 h#\n")
        text(root / "silb" / f"{name}.silb", "0.0 h#\n")
    junk(root / "wav" / "._03a01Wa.wav")
    text(root / "erkennung.txt", "recognition rates\n")
    return root


# --- EMOVO -----------------------------------------------------------------------------------------------------

EMOVO_ACTORS = ("f1", "f2", "f3", "m1", "m2", "m3")
EMOVO_EXTRA = ("pau-f1-l1", "dis-m1-n1", "sor-m2-d2")


def emovo_names() -> list[str]:
    return [f"{code}-{a}-b1" for a in EMOVO_ACTORS for code in ("neu", "gio", "rab", "tri")] + list(EMOVO_EXTRA)


def make_emovo(base: Path, nest: str = "EMOVO") -> Path:
    root = base / "emovo_download"
    corpus = root / nest if nest else root
    for name in emovo_names():
        wav(corpus / name.split("-")[1] / f"{name}.wav", 48000)
    junk(corpus / "f1" / "._neu-f1-b1.wav")
    text(corpus / "documents" / "EMOVO.txt", "documentation\n")
    return root


# --- URDU ------------------------------------------------------------------------------------------------------

# (folder, file name): SM5 holds many files, others 1-3, as in the real corpus
URDU_FILES = [
    ("Angry", "SM1_F1_A01.wav"),
    ("Angry", "SM1_F2_A02.wav"),
    ("Angry", "SM1_F3_A03.wav"),
    ("Angry", "SM2_F1_A023.wav"),
    ("Angry", "SM2_F2_A024.wav"),
    ("Happy", "SF1_F1_H01.wav"),
    ("Happy", "SF1_F2_H02.wav"),
    ("Happy", "SM5_F1_H055.wav"),
    ("Happy", "SM5_F2_H056.wav"),
    ("Happy", "SM3_F1_H053.wav"),
    ("Neutral", "SF9_F1_N01.wav"),
    ("Neutral", "SM3_F1_N021.wav"),
    ("Neutral", "SM5_F1_N029.wav"),
    ("Neutral", "SM5_F2_N030.wav"),
    ("Neutral", "SM5_F3_N031.wav"),
    ("Neutral", "SM5_F4_N032.wav"),
    ("Neutral", "SM5_F5_N033.wav"),
    ("Neutral", "SM5_F6_N034.wav"),
    ("Sad", "SF10_F1_S01.wav"),
    ("Sad", "SF10_F2_S02.wav"),
    ("Sad", "SM23_F1_S07.wav"),
    ("Sad", "SM23_F2_S08.wav"),
    ("Sad", "SM24_F1_S013.wav"),
    ("Sad", "SM24_F2_S014.wav"),
    ("Sad", "SM24_F3_S015.wav"),
]


def make_urdu(base: Path) -> Path:
    root = base / "URDU-Dataset"
    for i, (folder, name) in enumerate(URDU_FILES):
        wav(root / folder / name, 44100 if i % 3 else 16000)  # sample rates vary in the real corpus
    junk(root / "Angry" / "._SM1_F1_A01.wav")
    text(root / "README.md", "# URDU-Dataset\n")
    return root


# --- RAVDESS ---------------------------------------------------------------------------------------------------


def ravdess_speech(actor: int) -> list[str]:
    """Angry, neutral, sad (strong, statement 2, repetition 2) for every actor; happy for odd actors; calm and surprise for actor 1."""
    codes = [("05", "01"), ("01", "01"), ("04", "02")] + ([("03", "01")] if actor % 2 else []) + ([("02", "01"), ("08", "02")] if actor == 1 else [])
    return [
        f"03-01-{code}-{intensity}-{'02' if code == '04' else '01'}-{'02' if code == '04' else '01'}-{actor:02d}.wav" for code, intensity in codes
    ]


def make_ravdess(base: Path) -> Path:
    root = base / "ravdess"
    for actor in range(1, 25):
        for name in ravdess_speech(actor):
            wav(root / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}" / name, 48000)
    for actor in (1, 2):  # the song release beside the speech release: another task
        wav(root / "Audio_Song_Actors_01-24" / f"Actor_{actor:02d}" / f"03-02-03-01-01-01-{actor:02d}.wav", 48000)
    for name in ravdess_speech(1)[:2]:  # some copies hold Actor_01 twice
        wav(root / "Actor_01" / name, 48000)
    junk(root / "Audio_Speech_Actors_01-24" / "Actor_01" / "._03-01-05-01-01-01-01.wav")
    return root


# --- CREMA-D ---------------------------------------------------------------------------------------------------

CREMAD_ACTORS = tuple(range(1001, 1011))
CREMAD_FEMALE = {1002, 1003, 1004, 1007, 1008}


def cremad_names() -> list[str]:
    names = [
        f"{a}_{s}_{e}_{lvl}"
        for a in CREMAD_ACTORS
        for s, e, lvl in (("DFA", "ANG", "HI"), ("IEO", "HAP", "MD"), ("TIE", "NEU", "XX"), ("ITS", "SAD", "LO"))
    ]
    return sorted(names + ["1001_IOM_DIS_XX", "1002_IWW_FEA_XX"])


def make_cremad(base: Path, demographics: bool = True) -> Path:
    root = base / ("CREMA-D" if demographics else "CREMA-D-no-demographics")
    for name in cremad_names():
        wav(root / "AudioWAV" / f"{name}.wav", 16000)
        junk(root / "AudioMP3" / f"{name}.mp3")
    junk(root / "AudioWAV" / "._1001_DFA_ANG_HI.wav")
    if demographics:
        rows = [f"{a},{30 + a % 7},{'Female' if a in CREMAD_FEMALE else 'Male'},Caucasian,Not Hispanic" for a in CREMAD_ACTORS]
        text(root / "VideoDemographics.csv", "ActorID,Age,Sex,Race,Ethnicity\n" + "\n".join(rows) + "\n")
    text(root / "finishedResponses.csv", "localid,clipNum\n")
    return root


# --- SAVEE -----------------------------------------------------------------------------------------------------

SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_CODES = ("a01", "d01", "f01", "h01", "n01", "n02", "sa01", "su01")


def make_savee(base: Path, layout: str = "AudioData") -> Path:
    root = base / f"savee_{layout}"
    for speaker in SAVEE_SPEAKERS:
        for code in SAVEE_CODES:
            if layout == "AudioData":
                wav(root / "AudioData" / speaker / f"{code}.wav", 44100)
            else:
                wav(root / "ALL" / f"{speaker}_{code}.wav", 44100)
    if layout == "AudioData":
        junk(root / "AudioData" / "DC" / "._a01.wav")
        text(root / "AudioData" / "Info.txt", "Surrey Audio-Visual Expressed Emotion\n")
        text(root / "Annotation" / "DC" / "a01.lab", "0.0 sil\n")
    else:
        junk(root / "ALL" / "._DC_a01.wav")
    return root


# --- TESS ------------------------------------------------------------------------------------------------------

# folder -> file suffix, with the real folders' inconsistent spellings
TESS_FOLDERS = {
    "OAF_angry": "angry",
    "OAF_Fear": "fear",
    "OAF_happy": "happy",
    "OAF_neutral": "neutral",
    "OAF_Pleasant_surprise": "ps",
    "OAF_Sad": "sad",
    "YAF_angry": "angry",
    "YAF_disgust": "disgust",
    "YAF_fear": "fear",
    "YAF_happy": "happy",
    "YAF_neutral": "neutral",
    "YAF_pleasant_surprised": "ps",
    "YAF_sad": "sad",
}
TESS_WORDS = ("back", "bar", "base", "bath")


def tess_files() -> list[tuple[str, str]]:
    return [(folder, f"{folder[:3]}_{word}_{suffix}.wav") for folder, suffix in TESS_FOLDERS.items() for word in TESS_WORDS]


def make_tess(base: Path) -> Path:
    download = base / "tess"
    root = download / "TESS Toronto emotional speech set data"
    for folder, name in tess_files():
        wav(root / folder / name, 24414)
    junk(root / "OAF_angry" / "._OAF_back_angry.wav")
    # the release's quirks: a speaker field cut short, AIFF data behind a .wav name, one 96 kHz file
    wav(root / "OAF_neutral" / "OA_bite_neutral.wav", 24414)
    aiff = root / "YAF_angry" / "YAF_germ_angry.wav"
    sf.write(
        aiff,
        np.zeros(int(SECONDS * 24414), dtype=np.float32) + 0.05 * np.sin(np.arange(int(SECONDS * 24414))),
        24414,
        format="AIFF",
        subtype="PCM_16",
    )
    wav(root / "OAF_Fear" / "OAF_food_fear.wav", 96000)
    return root


# --- ShEMO -----------------------------------------------------------------------------------------------------

SHEMO_SPEAKERS = ("F01", "F02", "F03", "F04", "M01", "M02", "M03", "M12")


def shemo_names() -> list[str]:
    names = [f"{s}{code}{i:02d}" for s in SHEMO_SPEAKERS for i, code in enumerate("AHNS", start=1)]
    return sorted(names + ["F01W05", "M12F06"])


def make_shemo(base: Path, layout: str = "folders") -> Path:
    root = base / f"shemo_{layout}"
    for name in shemo_names():
        folder = root / ("female" if name[0] == "F" else "male") if layout == "folders" else root
        wav(folder / f"{name}.wav", 22050 if name.startswith("M12") else 44100)
    junk(root / ("female" if layout == "folders" else "") / "._F01A01.wav")
    text(root / "transcript" / "final text.txt", "F01A01 ...\n")
    return root


# --- ESD -------------------------------------------------------------------------------------------------------

ESD_EMOTIONS = ("Angry", "Happy", "Neutral", "Sad", "Surprise")


def make_esd(base: Path) -> Path:
    root = base / "esd" / "Emotion Speech Dataset"
    for n in range(1, 21):
        speaker = f"{n:04d}"
        for e, emotion in enumerate(ESD_EMOTIONS):
            folder = root / speaker / ("Surprised" if emotion == "Surprise" and n == 12 else emotion)
            index = 1 + 350 * e
            if n in (1, 11):  # releases that split each emotion into train/evaluation/test
                wav(folder / "train" / f"{speaker}_{index:06d}.wav", 16000)
                wav(folder / "test" / f"{speaker}_{index + 1:06d}.wav", 16000)
            else:
                wav(folder / f"{speaker}_{index:06d}.wav", 16000)
        text(root / speaker / f"{speaker}.txt", f"{speaker}_000001\tAuthor of the danger trail.\tNeutral\n")
    junk(root / "0011" / "Angry" / "._0011_000351.wav")
    text(root / "ReadMe.txt", "ESD\n")
    return root


MAKERS = {
    "iemocap": make_iemocap,
    "emodb": make_emodb,
    "emovo": make_emovo,
    "urdu": make_urdu,
    "ravdess": make_ravdess,
    "cremad": make_cremad,
    "savee": make_savee,
    "tess": make_tess,
    "shemo": make_shemo,
    "esd": make_esd,
}


def make_all(base: Path) -> dict[str, Path]:
    """Every miniature corpus under ``base``, by registry name."""
    return {name: make(base) for name, make in MAKERS.items()}
