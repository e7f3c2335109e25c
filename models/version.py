"""The arm's version: the installed package's, as pyproject.toml declares it."""

from __future__ import annotations

import functools
from importlib import metadata


@functools.cache  # read once per process: /health and /capabilities ask on every call
def arm_version() -> str:
    """The installed ``research-arm`` version; "0+unknown" when run from an uninstalled tree."""
    try:
        return metadata.version("research-arm")
    except metadata.PackageNotFoundError:
        return "0+unknown"
