"""The arm's version: the installed package's, as pyproject.toml declares it."""

from __future__ import annotations

from importlib import metadata


def arm_version() -> str:
    """The installed ``research-arm`` version; "0+unknown" when run from an uninstalled tree."""
    try:
        return metadata.version("research-arm")
    except metadata.PackageNotFoundError:
        return "0+unknown"
