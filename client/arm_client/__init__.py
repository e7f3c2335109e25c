"""The research arm's typed client: ``arm_client.models`` (the API's schemas, shared with the
server), ``ArmClient`` and ``AsyncArmClient``, the exports of an answer's papers, and the ``arm``
command line (``arm_client.cli``)."""

from arm_client.client import DEFAULT_URL, ArmClient, AsyncArmClient
from arm_client.errors import (
    ArmApiError,
    ArmConnectionError,
    BadRequestError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from arm_client.export import EXPORT_FORMATS, ExportError, to_bibtex, to_csl_json, to_ris

__all__ = [
    "DEFAULT_URL",
    "EXPORT_FORMATS",
    "ArmApiError",
    "ArmClient",
    "ArmConnectionError",
    "AsyncArmClient",
    "BadRequestError",
    "ExportError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitedError",
    "UnauthorizedError",
    "UnavailableError",
    "to_bibtex",
    "to_csl_json",
    "to_ris",
]
