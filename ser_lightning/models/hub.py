"""Talking to the Hugging Face hub: bounded in time, and a one-line answer naming the endpoint and the fix when it fails.

Every request of huggingface_hub's shared HTTP client (which transformers downloads through too) gets a connect timeout
(``HF_HUB_ETAG_TIMEOUT``) and read/write timeouts (``HF_HUB_DOWNLOAD_TIMEOUT``), 10 s each by default: huggingface_hub
leaves most of its calls (``create_repo``, commits) without any. Before the first request the hub is probed once a
minute (:func:`hub_status`): a hub that refuses the connection, or accepts it and never answers, is told in seconds
instead of after a minute of retries.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HUB_TIMEOUT_SECONDS = 3.0  # the probe's limit (unless the hub timeouts are set lower)
_REMEMBER_SECONDS = 60.0  # one probe serves every backbone (and feature extractor) built within a minute
_probes: dict[tuple[str, int], tuple[float, str | None]] = {}


def hub_endpoint() -> str:
    """The hub's address: ``$HF_ENDPOINT``, else huggingface_hub's (``https://huggingface.co``)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _seconds(variable: str, default: float) -> float:
    try:
        value = float(os.environ.get(variable) or default)
    except ValueError:
        return float(default)
    return value if value > 0 else float(default)


def hub_timeouts() -> tuple[float, float]:
    """(connect, read) seconds for every hub request: ``HF_HUB_ETAG_TIMEOUT`` and ``HF_HUB_DOWNLOAD_TIMEOUT``, read at call time."""
    from huggingface_hub import constants

    return _seconds("HF_HUB_ETAG_TIMEOUT", constants.DEFAULT_ETAG_TIMEOUT), _seconds("HF_HUB_DOWNLOAD_TIMEOUT", constants.DEFAULT_DOWNLOAD_TIMEOUT)


def _bound_timeouts(request: Any) -> None:
    """httpx request hook: cap the request's timeouts (a ``None``, no limit at all, included) at :func:`hub_timeouts`."""
    connect, read = hub_timeouts()
    given = request.extensions.get("timeout") or {}
    limits = {"connect": connect, "read": read, "write": read, "pool": read}
    request.extensions["timeout"] = {key: min(given.get(key) or limit, limit) for key, limit in limits.items()}


def bound_hub_requests() -> None:
    """Give every request of huggingface_hub's shared client (``get_session()``, which it recreates after ``close_session``
    or a fork) the timeouts of :func:`hub_timeouts`; idempotent, so called before each hub operation."""
    from huggingface_hub.utils import get_session

    hooks = get_session().event_hooks["request"]
    if _bound_timeouts not in hooks:
        hooks.append(_bound_timeouts)


def hub_address() -> tuple[str, int]:
    """Where a download of the hub (``$HF_ENDPOINT``, default huggingface.co) first connects: the proxy that
    ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` name for it (unless ``NO_PROXY`` exempts the hub), else the hub itself.
    Transformers downloads through the same proxy (its HTTP client honours these variables)."""
    endpoint, proxy = _route()
    if proxy is not None:
        return proxy[0], proxy[1]
    return endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)


def _route() -> tuple[Any, tuple[str, int] | None]:
    endpoint = urlparse(hub_endpoint())
    host = endpoint.hostname or "huggingface.co"
    proxies = urllib.request.getproxies()
    proxy = proxies.get(endpoint.scheme or "https") or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return endpoint, (parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    return endpoint, None


def _answers(connection: socket.socket, endpoint: Any, through_proxy: bool) -> None:
    """Raise ``OSError`` (``TimeoutError`` when silent) unless the server says anything (or closes) within the socket's timeout."""
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    if through_proxy:
        connection.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        connection.recv(1)
    elif endpoint.scheme == "https":  # a TLS handshake is the hub's answer; nothing is sent, so no certificate is needed
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.wrap_socket(connection, server_hostname=host).close()
    else:
        connection.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        connection.recv(1)


def hub_status(timeout: float | None = None) -> str | None:
    """None when the hub (or the proxy in front of it, :func:`hub_address`) accepts a connection and answers within
    ``timeout`` seconds (default: :data:`HUB_TIMEOUT_SECONDS`, or the hub timeouts when lower); else why not, in a few
    words. The answer is remembered for a minute, so a node without a route waits once, not once per model."""
    connect, read = hub_timeouts()
    timeout = timeout if timeout is not None else min(HUB_TIMEOUT_SECONDS, connect, read)
    address = hub_address()
    checked = _probes.get(address)
    if checked is not None and time.monotonic() - checked[0] < _REMEMBER_SECONDS:
        return checked[1]
    endpoint, proxy = _route()
    where = f"{address[0]}:{address[1]}" + (" (the proxy)" if proxy else "")
    try:
        with socket.create_connection(address, timeout=timeout) as connection:
            reason = None
            try:
                _answers(connection, endpoint, proxy is not None)
            except TimeoutError:
                reason = f"accepted a connection at {where} but did not answer within {timeout:g} s"
            except OSError:
                pass  # it answered, if only by closing or by a TLS alert
    except OSError as error:
        reason = f"cannot be reached at {where} ({type(error).__name__}: {error})"
    _probes[address] = (time.monotonic(), reason)
    return reason


def hub_reachable(timeout: float | None = None) -> bool:
    """Whether the hub answers (see :func:`hub_status`)."""
    return hub_status(timeout) is None


def offline_message(name_or_path: str, detail: str) -> str:
    return (
        f"Cannot load name_or_path={name_or_path!r}: it is not a local folder, and the Hugging Face hub {detail}. "
        "Download it once where the hub is reachable (transformers caches it), point name_or_path at a local folder "
        "written by save_pretrained, or set pretrained: false to train the same architecture from random weights."
    )


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` switches the hub off."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def hub_options(name_or_path: str, trust_remote_code: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``from_pretrained``: ``local_files_only`` when the hub is unreachable but the files are cached.

    Raises ``ValueError`` (one line, naming ``name_or_path`` and the fixes) when the hub is unreachable and nothing is cached.
    """
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if Path(name_or_path).is_dir():
        return options
    offline = hub_offline()
    why = "is switched off (HF_HUB_OFFLINE is set)" if offline else hub_status()
    if why is None:
        bound_hub_requests()
        return options
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name_or_path, "config.json"), str):
        return options | {"local_files_only": True}
    raise ValueError(offline_message(name_or_path, f"{why} and no copy is cached"))


def load_failure(name_or_path: str, error: OSError) -> ValueError:
    """The error to raise when ``from_pretrained`` fails (not found, no network, missing files), in one line."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValueError(offline_message(name_or_path, f"did not provide it ({first})"))


def hub_failure(error: BaseException) -> str | None:
    """What went wrong in a hub call, in a few words naming the endpoint (a timeout, a refused connection, an HTTP
    status, a missing token), or None for an error that did not come from talking to the hub."""
    import httpx2
    from huggingface_hub import errors

    endpoint = hub_endpoint()
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    request = getattr(response, "request", None)
    sent = "a token" if request is not None and "authorization" in request.headers else "no token"
    if isinstance(error, errors.OfflineModeIsEnabled):
        return "the hub is switched off (HF_HUB_OFFLINE is set)"
    if isinstance(error, errors.LocalTokenNotFoundError):
        return f"no token to write to {endpoint} was found"
    if isinstance(error, httpx2.TimeoutException):
        return f"{endpoint} did not answer within {max(hub_timeouts()):g} s"
    if isinstance(error, httpx2.TransportError):
        return f"{endpoint} cannot be reached ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'})"
    if isinstance(error, errors.GatedRepoError):
        return f"the repository is gated on {endpoint}: accept its conditions there, with the account whose token you use"
    if isinstance(error, errors.RepositoryNotFoundError):
        private = "the token sent may not read it" if sent == "a token" else "no token was sent"
        return f"{endpoint} has no such repository, or it is private and {private}"
    if isinstance(error, errors.RevisionNotFoundError):
        return f"{endpoint} has no such revision of the repository"
    if isinstance(error, errors.LocalEntryNotFoundError):
        return f"{endpoint} could not be reached and no copy is cached"
    if status == 401:
        return f"{endpoint} refused the token (401 Unauthorized)" if sent == "a token" else f"{endpoint} asks for a token and none was sent (401)"
    if status is not None:
        return f"{endpoint} " + ("forbade it (403: the token may not write there)" if status == 403 else f"answered HTTP {status}")
    return None
