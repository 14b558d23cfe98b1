"""ser_lightning: cross-language speech emotion recognition with speech foundation models, on PyTorch Lightning."""

__version__ = "0.1.0"
