"""espeak-ng driven through ctypes: one engine per process speaks a job as int16 samples."""

from __future__ import annotations

import ctypes
import threading
from typing import Any, NamedTuple

import numpy as np


class _Job(NamedTuple):
    """One utterance for the worker: what espeak-ng says, with which seeds, and where the WAV goes."""

    text: str
    voice: str
    prosody: tuple[int, int, int, int]
    engine_seed: int
    floor_seed: int
    path: str


_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_PARAMETERS = (1, 3, 4, 2)  # espeakRATE, espeakPITCH, espeakRANGE, espeakVOLUME, in prosody order
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _import_engine() -> Any:
    """The ``espeakng_loader`` module, imported only when speech is synthesised (the demo's optional extra)."""
    try:
        import espeakng_loader
    except ImportError:
        raise ImportError(
            "The synthetic demo corpus is spoken by espeak-ng, which is not installed: "
            "pip install 'ser_lightning[demo]' (or pip install espeakng-loader)."
        ) from None
    return espeakng_loader


class _Espeak:
    """The process's espeak-ng engine in synchronous mode; not thread-safe (see :func:`_speak`)."""

    def __init__(self) -> None:
        espeakng_loader = _import_engine()
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise (status {self.sample_rate}).")
        self._chunks: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept referenced: the library calls it later
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * count))
        return 0

    def synthesize(self, job: _Job) -> np.ndarray:
        """Speak one job; int16 samples at :attr:`sample_rate`."""
        if self._lib.espeak_SetVoiceByName(job.voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {job.voice!r}.")
        for parameter, value in zip(_ESPEAK_PARAMETERS, job.prosody):
            self._lib.espeak_SetParameter(parameter, value, 0)
        self._lib.espeak_ng_SetRandSeed(job.engine_seed)  # breathy voices mix in noise from this generator
        self._chunks.clear()
        text = job.text.encode()
        status = self._lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        samples = np.frombuffer(b"".join(self._chunks), dtype=np.int16)
        if status != 0 or not samples.any():
            raise RuntimeError(f"espeak-ng produced no speech (status {status}) for voice {job.voice!r} and text {job.text!r}.")
        return samples


_engine: _Espeak | None = None
_engine_lock = threading.Lock()


def _speak(job: _Job) -> tuple[np.ndarray, int]:
    """Speak one job with this process's engine (created on first use); returns (int16 samples, sample rate)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Espeak()
        return _engine.synthesize(job), _engine.sample_rate
