import numpy as np
import pytest

from ser_lightning.features.store import FeatureStore
from ser_lightning.fileio import write_bytes_atomic


def rows(frames: int, value: float, layers: int = 2, width: int = 3) -> np.ndarray:
    return np.full((frames, layers, width), value, dtype=np.float32)


def test_entries_round_trip_through_chunks_and_gather_pads_frames(tmp_path):
    store = FeatureStore(tmp_path)
    with store.writer(chunk_bytes=50) as writer:  # 72, 24 and 120 bytes: two chunks
        for i, frames in enumerate([3, 1, 5]):
            writer.add(f"k{i}", rows(frames, i + 1))
    assert len(writer.chunks) == 2
    reread = FeatureStore(tmp_path)
    assert len(reread) == 3 and reread.missing(["k0", "k9"]) == ["k9"]
    assert np.array_equal(reread.rows("k2"), rows(5, 3))
    features, lengths = reread.gather(["k1", "k2"])
    assert features.shape == (2, 5, 2, 3) and lengths.tolist() == [1, 5]
    assert features[0, 0].eq(2).all() and features[0, 1:].eq(0).all()


def test_layouts_and_dtypes_are_kept_apart_and_float16_is_stored_as_such(tmp_path):
    with FeatureStore(tmp_path, "pooled", "float16").writer() as writer:
        writer.add("k", rows(1, 0.5))
    assert "k" not in FeatureStore(tmp_path, "frames", "float16") and "k" not in FeatureStore(tmp_path, "pooled", "float32")
    half = FeatureStore(tmp_path, "pooled", "float16")
    assert half.rows("k").dtype == np.float16 and half.gather(["k"])[0].dtype.is_floating_point


def test_a_half_written_or_broken_chunk_is_ignored_and_its_entries_count_as_missing(tmp_path):
    store = FeatureStore(tmp_path)
    for key in ("whole", "truncated", "no_rows"):
        with store.writer() as writer:
            writer.add(key, rows(4, 1))
    chunks = {FeatureStore(tmp_path).rows(key).filename: key for key in ("whole", "truncated", "no_rows")}
    by_key = {key: path for path, key in chunks.items()}
    with open(by_key["truncated"], "r+b") as handle:
        handle.truncate(100)  # the header and a few rows of a crashed copy
    (tmp_path / by_key["no_rows"]).unlink()
    (tmp_path / "frames-float32-orphan.npy").write_bytes(b"rows without an index")
    (tmp_path / ".frames-float32-x.json.1-abc.tmp").write_text("{")
    store.refresh()
    assert store.missing(["whole", "truncated", "no_rows"]) == ["truncated", "no_rows"]
    assert len(store.ignored) == 2


def test_an_index_that_promises_other_rows_is_ignored(tmp_path):
    store = FeatureStore(tmp_path)
    with store.writer() as writer:
        writer.add("k", rows(2, 1))
    index = writer.chunks[0].with_suffix(".json")
    index.write_text(index.read_text().replace('"shape": [2, 2, 3]', '"shape": [9, 2, 3]'))
    store.refresh()
    assert "k" not in store and "index says" in store.ignored[0]


def test_a_failed_fill_writes_no_chunk_and_a_failed_write_leaves_no_file(tmp_path):
    store = FeatureStore(tmp_path)
    with pytest.raises(RuntimeError):
        with store.writer() as writer:
            writer.add("k", rows(2, 1))
            raise RuntimeError("backbone failed")
    assert not list(tmp_path.iterdir())

    def broken(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_bytes_atomic(tmp_path / "x.npy", broken, fsync=True)
    assert not list(tmp_path.iterdir())


def test_gather_names_the_folder_when_entries_are_missing(tmp_path):
    with pytest.raises(KeyError, match=str(tmp_path)):
        FeatureStore(tmp_path).gather(["absent"])


def test_rows_need_frames_layers_and_width(tmp_path):
    with pytest.raises(ValueError, match="frames, layers, width"):
        FeatureStore(tmp_path).writer().add("k", np.zeros((0, 2, 3)))
