"""The folder of an export: a local folder as it is, or a hub repository's ``config.json`` and ``model.safetensors``
downloaded (or taken from huggingface_hub's cache) with bounded requests and a one-line answer when the hub fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.hub import bound_hub_requests, hub_endpoint, hub_failure, hub_offline, hub_status
from .folder_config import CONFIG_FILE, ModelFolderError
from .folder_weights import WEIGHTS_FILE

_EXPORT = "the folder `python -m ser_lightning export` wrote"
_FIXES = (
    "for a model on this machine give its export folder; for a private or gated repository log in (`hf auth login` or HF_TOKEN); "
    "for another hub set HF_ENDPOINT"
)


def _download(repo_id: str, cached_only: bool, options: dict[str, Any]) -> Path:
    from huggingface_hub import hf_hub_download

    config = Path(hf_hub_download(repo_id, CONFIG_FILE, local_files_only=cached_only, endpoint=hub_endpoint(), **options))
    commit = config.parent.name  # snapshots/<commit>/config.json: the weights of the same commit
    weights = Path(hf_hub_download(repo_id, WEIGHTS_FILE, local_files_only=cached_only, endpoint=hub_endpoint(), **{**options, "revision": commit}))
    if weights.parent != config.parent:
        raise ModelFolderError(f"{repo_id}: {CONFIG_FILE} and {WEIGHTS_FILE} were not stored in one snapshot ({config.parent}, {weights.parent}).")
    return config.parent


def export_folder(
    name_or_path: str,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> Path:
    """``name_or_path`` when it is a folder; else the folder holding hub repository ``name_or_path``'s ``config.json`` and
    ``model.safetensors`` (downloaded, or from the cache when the hub is off or cannot be reached). Raises
    :class:`~ser_lightning.sharing.folder_config.ModelFolderError`: one line naming the folder or the endpoint and the fix."""
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, LocalEntryNotFoundError
    from huggingface_hub.utils import validate_repo_id

    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelFolderError(f"{path} is a file; give {_EXPORT} (it holds {CONFIG_FILE} and {WEIGHTS_FILE}).")
    try:
        validate_repo_id(name_or_path)
    except HFValidationError:
        raise ModelFolderError(f"{name_or_path!r} is neither a folder here nor a hub repository name (user/name); give {_EXPORT}.") from None
    options = {"revision": revision, "token": token, "cache_dir": cache_dir, "force_download": force_download}
    offline = "is switched off (HF_HUB_OFFLINE is set)" if hub_offline() else ("is not asked (local_files_only)" if local_files_only else None)
    why = offline or hub_status()
    if why is None:
        bound_hub_requests()
    try:
        return _download(name_or_path, why is not None, options)
    except LocalEntryNotFoundError:
        why = why or "could not be reached"
        raise ModelFolderError(f"{name_or_path!r} is not a folder here, and the hub {why} and the cache holds no copy: {_FIXES}.") from None
    except EntryNotFoundError as error:
        missing = WEIGHTS_FILE if WEIGHTS_FILE in str(error) else CONFIG_FILE
        raise ModelFolderError(
            f"{hub_endpoint()}/{name_or_path} has no {missing}: it is not a model `python -m ser_lightning export` wrote."
        ) from None
    except Exception as error:
        failure = hub_failure(error)
        if failure is None and not isinstance(error, OSError):
            raise
        failure = failure or f"could not be stored ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'})"
        raise ModelFolderError(f"{name_or_path!r} is not a folder here, and as a hub repository: {failure}; {_FIXES}.") from None
