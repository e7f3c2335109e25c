"""Shard generations: how an embedded index is ingested into while it is served.

Layout under one collection's folder::

    <folder>/CURRENT          the name of the shard being served (one line)
    <folder>/shards/<name>/   Edge shards, one per ingest

An ingest copies the current shard into a new folder (a copy of files the server only reads),
writes its records there, builds the indexes, flushes, and only then replaces ``CURRENT``
(written to a temporary file and renamed over it: atomic on POSIX). A reader that sees a new
name opens that shard and closes the old one. A kill at any point before the rename leaves the
old name in ``CURRENT`` and the old shard serving; the next ingest resumes the half-written
shard (newer than the one served; the engine's write-ahead log replays what was written), so a
killed ingest loses nothing. Shards no longer named are removed once no process holds them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

CURRENT = "CURRENT"
SHARDS = "shards"
_LOCKED_PART = "wal"  # the engine's write-ahead log holds the folder's lock


class Generations:
    """The generations of one embedded collection at ``folder``; see the module docstring."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def current(self) -> Path | None:
        """The shard being served; None before the first ingest."""
        try:
            name = (self.folder / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return self.folder / SHARDS / name if name else None

    def begin(self) -> Path:
        """The shard folder for an ingest: one a killed ingest left (newer than the current
        shard), else a new one holding a copy of the current shard if any."""
        served = self.current()
        unpublished = [p for p in self.retired() if served is None or p.name > served.name]
        if unpublished and not _held(unpublished[-1]):
            return unpublished[-1]
        target = self.fresh()
        if served is not None and served.is_dir():
            # The server holds the shard open only to read it; its lock (a flock) is not copied.
            shutil.copytree(served, target)
        return target

    def fresh(self) -> Path:
        """A new shard folder's path (not created), named so that names sort by time: the
        newest unpublished shard is the one a resumed ingest takes."""
        now_ns = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 10**9))
        target = self.folder / SHARDS / f"{stamp}.{now_ns % 10**9:09d}-{os.getpid()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def publish(self, shard: Path) -> None:
        """Make ``shard`` (complete and flushed) the one served, atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = self.folder / f".{CURRENT}.{os.getpid()}"
        with open(staged, "w") as out:
            out.write(shard.name + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, self.folder / CURRENT)
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def retired(self) -> list[Path]:
        """Shard folders not served: replaced ones and those a killed ingest left."""
        served = self.current()
        shards = self.folder / SHARDS
        if not shards.is_dir():
            return []
        return sorted(p for p in shards.iterdir() if p.is_dir() and p != served)

    def remove_retired(self, keep: Path | None = None) -> list[Path]:
        """Remove retired shards (but ``keep``, an ingest's own); a shard another process still
        holds open is left for a later call. Returns what was removed."""
        removed = []
        for shard in self.retired():
            if shard == keep or _held(shard):
                continue
            shutil.rmtree(shard, ignore_errors=True)
            removed.append(shard)
        return removed


def _held(shard: Path) -> bool:
    """Whether a process holds the shard open: the engine keeps an exclusive ``flock`` on its
    write-ahead log's directory while the shard is open."""
    wal = shard / _LOCKED_PART
    if not wal.is_dir():
        return False
    handle = os.open(wal, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)  # closing drops a lock this call took
    return False
