"""The one exception family that crosses the graph.

Every stage raises these; only the ingress turns them into HTTP::

    ArmError                      -> 500 internal_error (request id, no stack trace)
    ├── ArxivUnavailable          -> 503 arxiv_unavailable + Retry-After (unreachable, rate
    │                                limited, retries spent)
    ├── ArxivQueryError           -> 400 bad_request with arXiv's own message
    ├── Unauthorized              -> 401 + WWW-Authenticate: Bearer
    ├── Forbidden                 -> 403 forbidden
    ├── Overloaded                -> 503 overloaded + Retry-After (admission, the deadline)
    └── StageError                -> 503 stage_unavailable + Retry-After (a stage failed,
                                     restarting or dead; the request id finds its log line)

Each error carries its facts as fields (HTTP status, attempts, URL), as httpx's and arxiv.py's
errors do, and pickles with them, so it survives a hop through Ray: Ray re-raises a replica's
exception in the caller wrapped in ``RayTaskError``, whose ``.cause`` is the original object.
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """Base class of every error the research arm raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the message, then every field restored: subclasses need no __reduce__,
        # only defaults for their other constructor arguments.
        return (self.__class__, (self.message,), dict(self.__dict__))


class ArxivUnavailable(ArmError):
    """arXiv could not be reached or kept refusing.

    ``retry_after_s``: when to try again (seconds; arXiv's Retry-After when it sent one).
    ``status``: arXiv's last HTTP status (None: no answer). ``attempts``: requests sent.
    """

    def __init__(
        self,
        message: str,
        retry_after_s: float = 30.0,
        *,
        status: int | None = None,
        attempts: int = 0,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.status = status
        self.attempts = attempts
        self.url = url


class ArxivQueryError(ArmError):
    """arXiv rejected the query; ``message`` is arXiv's own text from its error feed."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class Unauthorized(ArmError):
    """The bearer token is missing or wrong (only when ``ARM_API_KEY`` is set)."""


class Forbidden(ArmError):
    """An operation this arm is not set up to allow (forgetting papers without ``ARM_API_KEY``)."""


class Overloaded(ArmError):
    """The arm is at capacity, or a request ran past its deadline; ``retry_after_s`` (s)."""

    def __init__(self, message: str, retry_after_s: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExpired(Overloaded):
    """A request ran past its deadline (``REQUEST_DEADLINE_S``): answered as ``Overloaded``,
    counted apart (outcome ``timeout``)."""


class StageError(ArmError):
    """A stage (embedder, memory, summarizer) failed; ``stage`` names it."""

    def __init__(self, message: str, stage: str = "unknown") -> None:
        super().__init__(message)
        self.stage = stage


def unwrap(exc: BaseException) -> BaseException:
    """The error a replica raised, out of Ray's wrappers (``RayTaskError.cause``, nested up to
    five deep), or ``exc`` itself when it is not wrapped."""
    for _ in range(5):
        cause = getattr(exc, "cause", None)
        if not isinstance(cause, BaseException) or cause is exc:
            break
        exc = cause
    return exc
