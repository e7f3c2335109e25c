"""Folders written by qdrant-client's embedded mode (``QdrantClient(path=...)``), which the arm
used before Qdrant Edge: found at start, refused with the command that converts them, never
deleted. ``python -m deployments.store.convert`` does the conversion."""

from __future__ import annotations

from pathlib import Path

from deployments.store.points import StoreUnreadable


def legacy_collection(folder: Path, collection: str) -> Path | None:
    """The old embedded mode's storage for ``collection`` under ``folder``, if it is there."""
    stored = folder / "collection" / collection / "storage.sqlite"
    return stored if (folder / "meta.json").is_file() and stored.is_file() else None


CONVERT = "python -m deployments.store.convert"


def refuse_legacy(folder: Path, collection: str, command: str = CONVERT) -> None:
    """Raise ``StoreUnreadable`` naming ``command`` when ``folder`` holds ``collection`` in the
    old format and no converted store beside it (after a conversion the old files may stay):
    a published index generation, or a memory shard."""
    converted = folder / collection
    if legacy_collection(folder, collection) is None or any(
        (converted / name).is_file() for name in ("CURRENT", "edge_config.json")
    ):
        return
    raise StoreUnreadable(
        f"{folder.resolve()} holds {collection!r} in qdrant-client's old embedded format, which "
        f"the arm no longer serves: convert it with `{command} {folder}` (points and vectors are "
        "copied, nothing is embedded again or deleted)"
    )
