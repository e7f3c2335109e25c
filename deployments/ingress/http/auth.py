"""Bearer-token auth as a FastAPI dependency: routes that declare it refuse a missing or wrong
token with ``Unauthorized`` (401). The key is ``ARM_API_KEY``, read by the Ingress replica
when its app starts; unset, every caller is let in."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from models.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False)


class BearerAuth:
    """Compares a bearer token with the key in constant time (no timing oracle)."""

    def __init__(self, key: SecretStr | None) -> None:
        self._key = key.get_secret_value().encode() if key else None

    @property
    def required(self) -> bool:
        return self._key is not None

    def check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        if self._key is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), self._key):
            raise Unauthorized("missing or wrong bearer token")


def require_bearer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The dependency: the app's ``BearerAuth`` (``app.state.auth``) checks the token."""
    auth: BearerAuth = request.app.state.auth
    auth.check(credentials)
