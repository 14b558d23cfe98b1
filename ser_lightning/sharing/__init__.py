"""Sharing trained models: a self-contained export folder (safetensors, config, model card), the hub, and ONNX."""

from .folder_config import ModelFolderError
from .pretrained import PretrainedRecognizer, load_pretrained

__all__ = ["ModelFolderError", "PretrainedRecognizer", "load_pretrained"]
