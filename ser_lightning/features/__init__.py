"""A feature cache for frozen backbones: hidden states computed once per utterance, reused across epochs, seeds and runs.

Turn it on with the ``FeatureCache`` callback (``FeatureCache(enabled=True)``); the model's ``embed_batch``
pools cached ``features`` instead of running the backbone.
"""

from .callback import FeatureCache
from .dataset import FEATURE_KEYS, CachedFeatureDataset
from .extract import estimate_bytes, extract_features
from .keys import backbone_identity, utterance_keys
from .store import ChunkWriter, FeatureStore

__all__ = [
    "FEATURE_KEYS",
    "CachedFeatureDataset",
    "ChunkWriter",
    "FeatureCache",
    "FeatureStore",
    "backbone_identity",
    "estimate_bytes",
    "extract_features",
    "utterance_keys",
]
