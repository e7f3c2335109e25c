"""Schemas of ``GET /health`` and ``GET /capabilities``: defined once, in the client
distribution (``arm_client.models``), and used by the server from here."""

from __future__ import annotations

from arm_client.models import CapabilityManifest, HealthStatus, Limits, StageHealth, StageState

__all__ = ["CapabilityManifest", "HealthStatus", "Limits", "StageHealth", "StageState"]
