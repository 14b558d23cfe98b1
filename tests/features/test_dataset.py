import pickle

from ser_lightning.data import ManifestCorpus
from ser_lightning.data.augment import EvaluationNoise
from ser_lightning.data.dataset import UtteranceDataset
from ser_lightning.features import FEATURE_KEYS, CachedFeatureDataset


def test_items_carry_the_sources_labels_and_metadata_without_audio(corpus):
    utterances = ManifestCorpus(str(corpus)).load()[:6]
    source = UtteranceDataset(
        [u.with_(role="target") for u in utterances], ["angry", "happy", "neutral", "sad"], 16000, snrs=[None, 10], noise=EvaluationNoise(16000)
    )
    cached = CachedFeatureDataset(source)
    assert len(cached) == len(source) == 12 and cached.durations == source.durations
    for index in (0, 5, 7):
        item, original = cached[index], source[index]
        assert "wave" not in item and item["label"] == original["label"] and item["meta"] == original["meta"]
    assert cached[(3, 7)] == cached[7]  # training batches index with (epoch, index)
    assert cached.utterances is source.utterances and cached.snrs == [None, 10]  # the rest is the source's
    batch = cached.collate([cached[0], cached[7]])
    assert batch[FEATURE_KEYS] == [cached.keys[0], cached.keys[7]] and batch["labels"].tolist() == [source[0]["label"], source[7]["label"]]
    assert batch["meta"]["snr"] == ["clean", "10"]
    copy = pickle.loads(pickle.dumps(cached))  # DataLoader workers get a copy
    assert copy[7] == cached[7]
