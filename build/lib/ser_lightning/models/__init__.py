"""Models: backbones (wav2vec2 family, Whisper encoder), the CNN-LSTM baseline, pooling heads, metrics and the LightningModule."""

from .backbones import Backbone, HFBackbone
from .baselines import CNNLSTM
from .module import EmotionRecognizer
from .pooling import AttentiveStatisticsPooling, MeanPooling, Pooling, WeightedLayerPooling
from .whisper import WhisperBackbone

__all__ = [
    "AttentiveStatisticsPooling",
    "Backbone",
    "CNNLSTM",
    "EmotionRecognizer",
    "HFBackbone",
    "MeanPooling",
    "Pooling",
    "WeightedLayerPooling",
    "WhisperBackbone",
]
