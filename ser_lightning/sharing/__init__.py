"""Sharing trained models: a self-contained export folder (safetensors, config, model card), the hub, and ONNX."""

from .pretrained import PretrainedRecognizer, load_pretrained

__all__ = ["PretrainedRecognizer", "load_pretrained"]
