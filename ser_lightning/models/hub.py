"""Loading from the Hugging Face hub: a fast, one-line answer when it cannot be reached, instead of a minute of retries."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HUB_TIMEOUT_SECONDS = 3.0
_REMEMBER_SECONDS = 60.0  # one probe serves every backbone (and feature extractor) built within a minute
_probes: dict[tuple[str, int], tuple[float, bool]] = {}


def hub_address() -> tuple[str, int]:
    """Where a download of the hub (``$HF_ENDPOINT``, default huggingface.co) first connects: the proxy that
    ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` name for it (unless ``NO_PROXY`` exempts the hub), else the hub itself.
    Transformers downloads through the same proxy (its HTTP client honours these variables)."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    proxies = urllib.request.getproxies()
    proxy = proxies.get(endpoint.scheme or "https") or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    return host, endpoint.port or (80 if endpoint.scheme == "http" else 443)


def hub_reachable(timeout: float = HUB_TIMEOUT_SECONDS) -> bool:
    """Whether the hub, or the proxy in front of it (:func:`hub_address`), accepts a TCP connection within ``timeout``
    seconds; the answer is remembered for a minute, so a node without a route waits once, not once per model."""
    address = hub_address()
    checked = _probes.get(address)
    if checked is not None and time.monotonic() - checked[0] < _REMEMBER_SECONDS:
        return checked[1]
    try:
        socket.create_connection(address, timeout=timeout).close()
        reachable = True
    except OSError:
        reachable = False
    _probes[address] = (time.monotonic(), reachable)
    return reachable


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
    why = (
        "is switched off (HF_HUB_OFFLINE is set) and no copy is cached" if offline else "cannot be reached from this machine (and no copy is cached)"
    )
    raise ValueError(offline_message(name_or_path, why))


def load_failure(name_or_path: str, error: OSError) -> ValueError:
    """The error to raise when ``from_pretrained`` fails (not found, no network, missing files), in one line."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValueError(offline_message(name_or_path, f"did not provide it ({first})"))
