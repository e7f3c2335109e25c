"""One HTTP request to arXiv, as the client sees it end: an outcome for the metrics, a throttle
kind, and whether (and when) it is worth another.

``ArxivObserver`` is what the client tells as each request ends, failures included; the
ArxivFetcher's metrics implement it (``deployments.common.metrics.FetcherMetrics``).
"""

from __future__ import annotations

import email.utils
import time
from typing import Literal, Protocol

# What became of one request: ``throttled`` is arXiv refusing for rate (429, 406, or HTTP 200
# with "Rate exceeded."); ``unreadable`` a body that is no usable feed (over the size cap, not
# Atom, an empty page that should not be); ``other`` an HTTP status arXiv does not use for
# either; ``cancelled`` one its caller gave up on before the answer.
RequestOutcome = Literal[
    "ok",
    "cancelled",
    "bad_request",
    "throttled",
    "server_error",
    "timeout",
    "connection",
    "unreadable",
    "other",
]
ThrottleKind = Literal["429", "406", "rate_exceeded"]


class ArxivObserver(Protocol):
    def request(
        self, outcome: RequestOutcome, throttle: ThrottleKind | None, gate_wait_s: float
    ) -> None:
        """One request ended in ``outcome`` after waiting ``gate_wait_s`` (s) for its turn."""

    def retry(self) -> None:
        """A request is about to be sent again."""


class _Unobserved:
    def request(
        self, outcome: RequestOutcome, throttle: ThrottleKind | None, gate_wait_s: float
    ) -> None:
        pass

    def retry(self) -> None:
        pass


NO_OBSERVER: ArxivObserver = _Unobserved()


class Retryable(Exception):
    """One attempt failed in a way worth another (never leaves the arxiv package)."""

    def __init__(
        self,
        reason: str,
        retry_after_s: float | None = None,
        *,
        outcome: RequestOutcome,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.outcome: RequestOutcome = outcome
        self.status = status

    @property
    def throttle(self) -> ThrottleKind | None:
        """The kind of rate refusal this was, if it was one."""
        if self.outcome != "throttled":
            return None
        return "429" if self.status == 429 else "406" if self.status == 406 else "rate_exceeded"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def refusal(status: int, head: bytes, retry_after: str | None) -> Retryable | None:
    """The failure of an answer with HTTP ``status``, first bytes ``head`` and header
    ``retry_after``, when arXiv refused for rate or its servers failed; None otherwise.

    arXiv throttles with 406 as well as 429 and 503 (users of other arXiv clients report it),
    and sometimes with HTTP 200 and a plain "Rate exceeded." body: all are waited out.
    """
    if status in (406, 429) or status >= 500:
        outcome: RequestOutcome = "throttled" if status in (406, 429) else "server_error"
        wait = parse_retry_after(retry_after)
        return Retryable(f"HTTP {status}", wait, outcome=outcome, status=status)
    if status == 200 and head.strip().lower().startswith(b"rate exceeded"):
        wait = parse_retry_after(retry_after)
        reason = "rate limited (HTTP 200 'Rate exceeded.')"
        return Retryable(reason, wait, outcome="throttled", status=200)
    return None
