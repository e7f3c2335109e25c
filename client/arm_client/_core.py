"""The part the sync and async clients share, and no I/O: what a call sends (``Call``), how an
answer becomes a model or an ``ArmApiError`` (``Call.parse``), and when to retry (``Retries``).

The clients only send a ``Call``, hand its answer to ``parse``, and ask ``Retries`` how long to
wait before the next attempt, or whether to give up.
"""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from arm_client.errors import BY_STATUS, KIND_BY_STATUS, ArmApiError, ArmConnectionError
from arm_client.models import ErrorBody

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call, described: sent as is on every attempt (the same Idempotency-Key too)."""

    method: str
    path: str
    parse_ok: Callable[[httpx.Response], T]
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Whether a lost answer (connection error, timeout) may be retried: true for reads, and for
    # POST /execute, whose Idempotency-Key makes a repeat answer the first run's response.
    retry_on_network: bool = True
    # Statuses whose body is parsed as an answer rather than raised (GET /health's 503).
    answer_statuses: frozenset[int] = frozenset()

    def attempt_headers(self) -> dict[str, str]:
        """The headers of one attempt: the call's, and a fresh ``X-Request-ID``, which the arm
        adopts, so that even an attempt that got no answer has an id to look up in its logs."""
        return {**self.headers, "X-Request-ID": str(uuid.uuid4())}

    def parse(self, response: httpx.Response) -> T:
        """The answer as the call's model, or raise the ``ArmApiError`` it amounts to."""
        if response.is_success or response.status_code in self.answer_statuses:
            try:
                return self.parse_ok(response)
            except (ValidationError, ValueError) as exc:
                if response.is_success:
                    raise ArmApiError(
                        response.status_code,
                        "invalid_response",
                        f"the answer does not match the API's model: {_short(str(exc))}",
                        request_id=response.headers.get("x-request-id"),
                    ) from exc
        raise api_error(response)


def model_parser(model: type[M]) -> Callable[[httpx.Response], M]:
    """Parse a JSON answer as ``model``."""

    def parse(response: httpx.Response) -> M:
        return model.model_validate_json(response.content)

    return parse


def no_content(response: httpx.Response) -> None:
    """An answer without a body (204)."""
    return None


def api_error(response: httpx.Response) -> ArmApiError:
    """The error an answer amounts to: the ErrorBody when there is one, else what is known."""
    status = response.status_code
    cls = BY_STATUS.get(status, ArmApiError)
    header_id = response.headers.get("x-request-id")
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        text = _short(response.text.strip()) if _is_text(response) else ""
        return cls(
            status,
            KIND_BY_STATUS.get(status, "http_error"),
            text or response.reason_phrase or f"HTTP {status}",
            request_id=header_id,
            retry_after_s=retry_after,
        )
    return cls(
        status,
        body.error,
        body.message,
        request_id=body.request_id or header_id,
        retry_after_s=retry_after,
        detail=body.detail,
    )


def network_error(
    exc: httpx.TransportError, call: Call[Any], request_id: str | None
) -> ArmConnectionError:
    """A transport failure as the client's error (raised ``from`` it by the caller)."""
    kind = "client_timeout" if isinstance(exc, httpx.TimeoutException) else "connection_error"
    return ArmConnectionError(
        None, kind, f"{call.method} {call.path}: {exc!r}", request_id=request_id
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds, or an HTTP date (relative to the wall clock)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Retries:
    """The retry decisions of one call: when to try again and when to give up.

    Retried: 429 and 503, and a lost answer when the call allows it. The wait is the answer's
    Retry-After when it has one, else an exponential backoff with jitter; either is capped by
    what is left of ``budget_s`` (counted from the call's start), and no retry starts once the
    budget is spent or ``max_retries`` were made.
    """

    budget_s: float
    max_retries: int
    clock: Callable[[], float] = time.monotonic
    backoff_s: float = 0.5
    backoff_max_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    started: float = field(init=False)
    retries: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def wait_before_retry(self, error: ArmApiError) -> float | None:
        """Seconds to wait before the next attempt, or None: give up and raise ``error``."""
        retryable = isinstance(error, ArmConnectionError) or error.status in RETRY_STATUSES
        left = self.budget_s - (self.clock() - self.started)
        if not retryable or self.retries >= self.max_retries or left <= 0:
            return None
        if error.retry_after_s is not None:
            if error.retry_after_s > left:
                return None  # the arm asked for longer than the budget allows: never sooner
            wait = error.retry_after_s
        else:
            step = min(self.backoff_max_s, self.backoff_s * 2**self.retries)
            wait = step / 2 + self.rng.uniform(0, step / 2)  # "equal jitter"
        self.retries += 1
        return min(wait, left)


def _is_text(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return kind.startswith("text/") or "json" in kind or not kind


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dump(model: BaseModel) -> Any:
    """A request model as the JSON the arm reads (dates as ISO strings, unset fields left out)."""
    return model.model_dump(mode="json", exclude_none=True)
