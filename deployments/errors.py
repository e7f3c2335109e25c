"""The one exception family that crosses the graph.

Every stage raises these; only the ingress turns them into HTTP::

    ArmError                      -> 500 (request id, no stack trace)
    ├── ArxivUnavailable          -> 503 + Retry-After (unreachable, rate limited, retries spent)
    ├── ArxivQueryError           -> 400 with arXiv's own message
    └── StageError                -> 500 (a stage failed in a way the caller cannot fix)

Each class pickles with its fields (``__reduce__``), so it survives a hop through Ray: Ray
re-raises a replica's exception in the caller wrapped in ``RayTaskError``, whose ``.cause``
is the original object.
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """Base class of every error the research arm raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,))


class ArxivUnavailable(ArmError):
    """arXiv could not be reached or kept refusing; ``retry_after_s`` is a hint in seconds."""

    def __init__(self, message: str, retry_after_s: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message, self.retry_after_s))


class ArxivQueryError(ArmError):
    """arXiv rejected the query; ``message`` is arXiv's own text from its error feed."""


class StageError(ArmError):
    """A stage (embedder, memory, summarizer) failed; ``stage`` names it."""

    def __init__(self, message: str, stage: str = "unknown") -> None:
        super().__init__(message)
        self.stage = stage

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message, self.stage))


def unwrap(exc: BaseException) -> BaseException:
    """The arm error inside a Ray wrapper (``RayTaskError.cause``), or ``exc`` itself."""
    seen = 0
    while not isinstance(exc, ArmError) and seen < 5:
        cause = getattr(exc, "cause", None)
        if not isinstance(cause, BaseException):
            break
        exc = cause
        seen += 1
    return exc
