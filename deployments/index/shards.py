"""``IndexShards``: which Qdrant Edge shard of the embedded index this process has open.

A reader (the ArxivFetcher) holds the shard being served and switches to a newer one when an
ingest publishes it; an ingest holds a shard of its own (``Generations.begin``: a copy of the
served one, or the one a killed ingest left) and publishes it when done. One ingest at a time:
a second one is refused by a lock file beside the shards.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from deployments.store.edge import EdgeStore
from deployments.store.generations import Generations
from deployments.store.points import StoreLocked

SWITCH_CHECK_S = 1.0  # how often a reader looks for a newly published shard
INGEST_LOCK = "INGEST.lock"


class IndexShards:
    """The open shard of the embedded index at ``folder`` (``store``; None before the first
    ingest, for a reader). ``ingest``: this process writes a new generation. ``create``: a
    writer in place (tests, benchmarks) makes a first, empty shard if there is none."""

    def __init__(self, folder: Path, *, ingest: bool = False, create: bool = False) -> None:
        self.generations = Generations(folder)
        self.writing: Path | None = None  # an ingest's own shard, until published
        self._lock: int | None = None
        self._checked_at = 0.0
        self.store: EdgeStore | None = None
        if ingest:
            self._begin_ingest()
            return
        shard = self.generations.current()
        if shard is None and create:
            shard = self.generations.begin()
            self.store = EdgeStore(shard)  # the caller creates the collection in it
            self.generations.publish(shard)
        elif shard is not None:
            self.store = EdgeStore(shard)

    def _begin_ingest(self) -> None:
        self.generations.folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.generations.folder / INGEST_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise StoreLocked(
                f"another ingest is writing the index at {self.generations.folder}: "
                "wait for it to end"
            ) from None
        self._lock = handle
        self.writing = self.generations.begin()
        self.generations.remove_retired(keep=self.writing)
        self.store = EdgeStore(self.writing)

    @property
    def generation(self) -> str:
        """The open shard's folder name ("" before the first ingest)."""
        return Path(self.store.location).name if self.store is not None else ""

    def switch_due(self) -> bool:
        """Whether a newer shard has been published than the one open (the folder is looked
        at most every ``SWITCH_CHECK_S``, so this is cheap to ask per search)."""
        if self.writing is not None:
            return False
        now = time.monotonic()
        if now - self._checked_at < SWITCH_CHECK_S:
            return False
        self._checked_at = now
        published = self.generations.current()
        return published is not None and published.name != self.generation

    def switch(self) -> bool:
        """Open the newest published shard in place of this one; whether it switched. The new
        shard opens before the old one closes, so a search never finds no index."""
        published = self.generations.current()
        if self.writing is not None or published is None or published.name == self.generation:
            return False
        old, self.store = self.store, EdgeStore(published)
        if old is not None:
            old.close()
        self.generations.remove_retired()
        return True

    def publish(self) -> None:
        """Make an ingest's shard (its indexes built) the one served, and keep it open."""
        if self.writing is None or self.store is None:
            return
        self.store.close()  # flushed and released before any reader opens it
        self.generations.publish(self.writing)
        self.store = EdgeStore(self.writing)
        self.writing = None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
