"""Data: manifests, label spaces, splits, audio loading, batching and DataModules."""

from .corpora import Corpus, ManifestCorpus, SyntheticCorpus
from .datamodule import CrossLingualDataModule, SERDataModule, SyntheticDataModule
from .files import AudioFiles
from .labels import CATEGORICAL4, LabelSpace
from .manifest import ManifestError, Utterance, read_manifest, write_manifest

__all__ = [
    "AudioFiles",
    "CATEGORICAL4",
    "Corpus",
    "CrossLingualDataModule",
    "LabelSpace",
    "ManifestCorpus",
    "ManifestError",
    "SERDataModule",
    "SyntheticCorpus",
    "SyntheticDataModule",
    "Utterance",
    "read_manifest",
    "write_manifest",
]
