"""What a call to the arm raises.

::

    ArmApiError                 every failed call; status None when no answer came
    ├── BadRequestError         400 (arXiv refused the query, a bad path)
    ├── UnauthorizedError       401 (no or wrong bearer token)
    ├── NotFoundError           404 (e.g. a paper memory does not hold)
    ├── InvalidRequestError     422 (``detail``: the field errors)
    ├── RateLimitedError        429 (retried while the budget lasts)
    ├── UnavailableError        503 (arXiv or a stage; retried while the budget lasts)
    └── ArmConnectionError      no answer: refused, reset, timed out

Input the client can check itself (a too-short query, a bad date) fails before any call with
pydantic's ``ValidationError``, a ``ValueError``. Every error keeps the request id the arm gave
it (the body's, else the ``X-Request-ID`` header) and shows it in ``str(error)``.
"""

from __future__ import annotations

from typing import Any

from arm_client.models import FieldError


class ArmApiError(Exception):
    """A call that failed: the arm's error body, or what is known when there was none."""

    def __init__(
        self,
        status: int | None,
        error: str,
        message: str,
        *,
        request_id: str | None = None,
        retry_after_s: float | None = None,
        detail: list[FieldError] | None = None,
    ) -> None:
        self.status = status
        self.error = error  # the ErrorBody kind (not_found, stage_unavailable, ...)
        self.message = message
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.status} {self.error}" if self.status is not None else self.error
        text = f"{head}: {self.message}"
        if self.detail:
            text += " (" + "; ".join(f"{d.field}: {d.message}" for d in self.detail) + ")"
        return f"{text} [request id {self.request_id or 'unknown'}]"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields do not survive the default Exception pickling.
        state = {"request_id": self.request_id, "retry_after_s": self.retry_after_s}
        return (_rebuild, (type(self), self.status, self.error, self.message, state, self.detail))


def _rebuild(
    cls: type[ArmApiError],
    status: int | None,
    error: str,
    message: str,
    state: dict[str, Any],
    detail: list[FieldError] | None,
) -> ArmApiError:
    return cls(status, error, message, detail=detail, **state)


class BadRequestError(ArmApiError):
    """400: the arm (or arXiv behind it) refused the request."""


class UnauthorizedError(ArmApiError):
    """401: the arm wants ``Authorization: Bearer <ARM_API_KEY>``."""


class NotFoundError(ArmApiError):
    """404: no such resource (a paper memory does not hold, an unknown path)."""


class InvalidRequestError(ArmApiError):
    """422: the arm refused the request's fields; ``detail`` lists each."""


class RateLimitedError(ArmApiError):
    """429: too many requests; ``retry_after_s`` says when to come back."""


class UnavailableError(ArmApiError):
    """503: arXiv or a stage is unavailable for now; ``retry_after_s`` says when to retry."""


class ArmConnectionError(ArmApiError):
    """No answer: the connection failed, was reset, or timed out (``status`` is None)."""


BY_STATUS: dict[int, type[ArmApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    422: InvalidRequestError,
    429: RateLimitedError,
    503: UnavailableError,
}

# The ErrorBody kind to assume when an answer carries no error body (e.g. a proxy's HTML page).
KIND_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    422: "validation_error",
    429: "overloaded",
    500: "internal_error",
    503: "stage_unavailable",
}
