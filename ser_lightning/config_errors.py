"""Errors that a class raises for a config value surface as that class's own message, not as a jsonargparse type dump."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value that a class refused: the class's own message, prefixed with the class's name when known."""

    def __init__(self, cause: BaseException | str) -> None:
        where = raising_class(cause) if isinstance(cause, BaseException) else None
        super().__init__(f"{where}: {cause}" if where else str(cause))


def _innermost_frame(error: BaseException):
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _from_jsonargparse(error: BaseException) -> bool:
    tb = _innermost_frame(error)
    return type(error).__module__.startswith("jsonargparse") or (tb is not None and "jsonargparse" in tb.tb_frame.f_code.co_filename)


def own_error(error: BaseException) -> BaseException | None:
    """The innermost error raised outside jsonargparse in ``error``'s chain of causes (what a class said), or None."""
    chain, current = [], error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    own = [e for e in chain if not _from_jsonargparse(e)]
    return own[-1] if own else None


def raising_class(error: BaseException) -> str | None:
    """The class whose ``__init__`` raised ``error``, or None: the outermost one outside jsonargparse, which is the class
    the config named (``CrossLingualDataModule``, not the ``SpeakerHoldout`` plan it builds from the options given)."""
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "__init__" and "self" in frame.f_locals and "jsonargparse" not in frame.f_code.co_filename:
            return type(frame.f_locals["self"]).__name__
        tb = tb.tb_next
    return None


_VALIDATING_PACKAGES = ("/ser_lightning/", "/audiomentations/")


def is_validation_error(error: BaseException) -> bool:
    """A config value refused on purpose (a ``ValueError`` raised by this package's or audiomentations' own checks),
    as opposed to a bug or an API change elsewhere (``AttributeError``, a ``TypeError`` inside transformers, ...),
    which keeps its traceback."""
    tb = _innermost_frame(error)
    return (
        isinstance(error, ValueError)
        and tb is not None
        and any(part in tb.tb_frame.f_code.co_filename.replace("\\", "/") for part in _VALIDATING_PACKAGES)
    )
