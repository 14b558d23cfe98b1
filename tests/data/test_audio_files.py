"""AudioFiles: finding unlabelled files (folders, lists), cutting long ones into windows, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ser_lightning.data.audio import AudioError
from ser_lightning.data.audio_files import AudioFiles, find_audio_files, windows_of


def tone(path, seconds: float, rate: int = 16000) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * np.sin(np.arange(int(seconds * rate)) * 0.05)).astype(np.float32), rate)
    return str(path)


def test_folders_lists_and_paths_are_found_in_order(tmp_path):
    a, b = tone(tmp_path / "in" / "b.wav", 1.0), tone(tmp_path / "in" / "sub" / "a.flac", 1.0)
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    (tmp_path / "in" / ".hidden.wav").write_text("")
    assert find_audio_files(tmp_path / "in") == [a, b]
    listing = tmp_path / "list.txt"
    listing.write_text("# my files\nin/sub/a.flac\n\n" + a + "\n")
    assert find_audio_files([str(listing), a]) == [b, a, a]
    with pytest.raises(FileNotFoundError, match="nowhere.wav"):
        find_audio_files(str(tmp_path / "nowhere.wav"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No audio files"):
        find_audio_files(tmp_path / "empty")


def test_long_files_are_cut_into_windows_that_cover_them(tmp_path):
    path = tone(tmp_path / "long.wav", 10.0, rate=8000)
    windows = windows_of(path, window_seconds=4.0, hop_seconds=2.5)
    assert [(w.start / 8000, w.stop / 8000) for w in windows] == [(0.0, 4.0), (2.5, 6.5), (5.0, 9.0), (6.0, 10.0)]
    assert len(windows_of(path, window_seconds=None, hop_seconds=None)) == 1
    assert len(windows_of(tone(tmp_path / "short.wav", 3.0), window_seconds=4.0, hop_seconds=None)) == 1
    data = AudioFiles(str(tmp_path / "long.wav"), window_seconds=4.0, hop_seconds=2.5)
    data.setup("predict")
    batch = next(iter(data.predict_dataloader()))
    assert batch["waves"].shape == (4, 64000) and batch["meta"]["start"] == [0.0, 2.5, 5.0, 6.0]  # resampled to 16 kHz


def test_unreadable_files_stop_setup_with_their_path(tmp_path):
    tone(tmp_path / "ok.wav", 1.0)
    (tmp_path / "broken.wav").write_bytes(b"not a wav file")
    with pytest.raises(AudioError, match="broken.wav"):
        AudioFiles(str(tmp_path)).setup("predict")
    with pytest.raises(ValueError, match="window_seconds"):
        AudioFiles(str(tmp_path), window_seconds=0)


def test_a_dangling_symlink_under_a_folder_is_named_in_one_warning(tmp_path):
    kept = tone(tmp_path / "in" / "kept.wav", 1.0)
    (tmp_path / "in" / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    with pytest.warns(UserWarning, match=r"1 dangling symlink.*gone\.wav -> .*deleted\.wav"):
        assert find_audio_files(tmp_path / "in") == [kept]
    with pytest.raises(FileNotFoundError, match=r"gone\.wav is a symlink to .*deleted\.wav, which does not exist"):
        find_audio_files(tmp_path / "in" / "gone.wav")


def test_files_under_a_symlinked_folder_are_found_and_a_link_back_up_does_not_loop(tmp_path):
    outside = tone(tmp_path / "elsewhere" / "deep" / "a.wav", 1.0)
    own = tone(tmp_path / "in" / "b.wav", 1.0)
    (tmp_path / "in" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "in" / "up").symlink_to(tmp_path / "in", target_is_directory=True)  # a loop
    found = find_audio_files(tmp_path / "in")
    assert found == [own, str(tmp_path / "in" / "linked" / "deep" / "a.wav")]
    assert sf.info(found[1]).frames == sf.info(outside).frames
