"""Parsed full texts on disk, gzip-compressed JSON, one file per paper version
("2401.01234v2.json.gz"), within a size bound: the least recently read go first.

Shared by every Reader replica on a node (one folder): a file is written to a temporary name
and renamed into place, so a reader never sees half of one; ``claim`` is a per-paper lock
file that makes the second replica wanting a paper wait for the first one's fetch, so a paper
is fetched once however many ask (within ``wait_s``; past it, the waiter fetches itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gzip
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deployments.reader.document import Block, Document, Heading

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
SUFFIX = ".json.gz"


def _name(paper: str) -> str:
    return SAFE_NAME.sub("_", paper)  # old-style ids have a slash: hep-th/9901001v1


def dump(document: Document, extra: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps({"document": asdict(document), **extra}).encode(), 6)


def load(blob: bytes) -> tuple[Document, dict[str, Any]]:
    data = json.loads(gzip.decompress(blob))
    raw = data.pop("document")
    document = Document(
        source=raw["source"],
        blocks=[Block(**b) for b in raw["blocks"]],
        outline=[Heading(**h) for h in raw["outline"]],
        references=raw["references"],
        title=raw.get("title", ""),
    )
    return document, data


class TextCache:
    """See the module docstring. ``max_bytes``: the folder's bound (compressed bytes)."""

    def __init__(self, folder: str | Path, max_bytes: int = 2 << 30) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def path(self, paper: str) -> Path:
        return self.folder / f"{_name(paper)}{SUFFIX}"

    def get(self, paper: str) -> tuple[Document, dict[str, Any]] | None:
        path = self.path(paper)
        try:
            found = load(path.read_bytes())
            os.utime(path)  # recently read: evicted last
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # damaged (a disk full, a kill): read it again
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, paper: str, document: Document, extra: dict[str, Any]) -> None:
        blob = dump(document, extra)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path(paper))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.evict()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob(f"*{SUFFIX}"))

    def evict(self) -> int:
        """Delete the least recently read files until the folder fits; how many went."""
        files = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):  # another replica evicted it
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    @contextlib.asynccontextmanager
    async def claim(self, paper: str, wait_s: float) -> AsyncIterator[bool]:
        """Hold the paper's fetch lock while the body runs; yields False when another
        process held it past ``wait_s`` (the caller then fetches anyway)."""
        lock_path = self.folder / f".{_name(paper)}.lock"
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        held = False
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    await asyncio.sleep(0.05)
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
