"""Loading from the Hugging Face hub: a fast, one-line answer when it cannot be reached, instead of a minute of retries."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HUB_TIMEOUT_SECONDS = 3.0


def hub_reachable(timeout: float = HUB_TIMEOUT_SECONDS) -> bool:
    """Whether the hub (``$HF_ENDPOINT``, default huggingface.co) accepts a TCP connection within ``timeout`` seconds."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)), timeout=timeout).close()
    except OSError:
        return False
    return True


def offline_message(name_or_path: str, detail: str) -> str:
    return (
        f"Cannot load name_or_path={name_or_path!r}: it is not a local folder, and the Hugging Face hub {detail}. "
        "Download it once where the hub is reachable (transformers caches it), point name_or_path at a local folder "
        "written by save_pretrained, or set pretrained: false to train the same architecture from random weights."
    )


def hub_options(name_or_path: str, trust_remote_code: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``from_pretrained``: ``local_files_only`` when the hub is unreachable but the files are cached.

    Raises ``ValueError`` (one line, naming ``name_or_path`` and the fixes) when the hub is unreachable and nothing is cached.
    """
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if Path(name_or_path).is_dir():
        return options
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")
    if not offline and hub_reachable():
        return options
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name_or_path, "config.json"), str):
        return options | {"local_files_only": True}
    why = "is switched off (HF_HUB_OFFLINE is set) and no copy is cached" if offline else "cannot be reached from this machine (and no copy is cached)"
    raise ValueError(offline_message(name_or_path, why))


def load_failure(name_or_path: str, error: OSError) -> ValueError:
    """The error to raise when ``from_pretrained`` fails (not found, no network, missing files), in one line."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValueError(offline_message(name_or_path, f"did not provide it ({first})"))
