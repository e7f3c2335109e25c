"""The memory outbox: writes the MemoryWriter did not take, kept on disk until it does.

A write that fails or times out (the MemoryWriter restarting, its store away) is appended here
instead of being dropped, and a drainer in the Ingress replica hands it over again, oldest first,
with a growing pause per entry, until the MemoryWriter takes it. Replays are safe: memory writes
are idempotent and read nothing first (``PaperMemory.upsert``), so an entry that did land before
its call failed adds nothing when it lands again, and a late one never goes back a version.

One SQLite file (stdlib, transactional, safe for several processes): every Ingress replica of one
machine may share it; an entry is leased to one drainer at a time. Bounded: beyond ``max_entries``
a write is refused (``OutboxFull``) and the caller says so. Pure Python: no Ray, no Serve.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deployments.common.logs import arm_logger, log_event
from models.contracts import NewMemory
from models.paper import Paper

logger = arm_logger(__name__)

LEASE_S = 60.0  # a claimed entry comes back to the queue if its drainer died with it
MAX_PAUSE_S = 30.0  # the longest wait before an entry is tried again
NEVER = 1e18  # next_try of an entry set aside (unreadable): kept for a person to look at


class OutboxFull(Exception):
    """The outbox holds ``max_entries`` writes already."""


@dataclass
class Entry:
    """One pending write: the papers and the query of one answered request."""

    id: str
    items: list[NewMemory]
    query: str | None
    attempts: int


def _encode(items: list[NewMemory], query: str | None) -> str:
    return json.dumps(
        {
            "query": query,
            "items": [
                {
                    "paper": item.paper.model_dump(mode="json"),
                    # float32 bytes: a quarter of the size of the numbers as text, and exact
                    "vector": base64.b64encode(
                        np.asarray(item.vector, dtype=np.float32).tobytes()
                    ).decode(),
                    "summary": item.summary,
                }
                for item in items
            ],
        }
    )


def _decode(body: str) -> tuple[list[NewMemory], str | None]:
    data = json.loads(body)
    items = [
        NewMemory(
            Paper.model_validate(item["paper"]),
            np.frombuffer(base64.b64decode(item["vector"]), dtype=np.float32).copy(),
            item["summary"],
        )
        for item in data["items"]
    ]
    return items, data["query"]


class MemoryOutbox:
    """Pending memory writes in the SQLite file at ``path`` (created when missing)."""

    def __init__(self, path: str | Path, max_entries: int = 2000) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit; each method is one statement or one explicit transaction. Callers on an
        # event loop run these methods on one thread of their own (``DurableWrites``), hence
        # check_same_thread off; a busy file (another replica's transaction) waits 5 s at most.
        self._db = sqlite3.connect(
            self.path, isolation_level=None, timeout=5.0, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        # Durable across a crash of the process (what the outbox is for); an OS crash may lose
        # the last commits, and commits stay cheap (no fsync each).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " next_try REAL NOT NULL, error TEXT)"
        )

    def add(self, items: list[NewMemory], query: str | None) -> str:
        """Keep a write; its id. Raises ``OutboxFull`` when ``max_entries`` are pending."""
        entry_id = uuid.uuid4().hex
        now = time.time()
        with self._transaction():
            if self.pending() >= self.max_entries:
                raise OutboxFull(f"{self.max_entries} memory writes pending already")
            self._db.execute(
                "INSERT INTO outbox (id, body, created, next_try) VALUES (?, ?, ?, ?)",
                (entry_id, _encode(items, query), now, now),
            )
        return entry_id

    def claim(self, limit: int = 8, now: float | None = None) -> list[Entry]:
        """Up to ``limit`` entries due now, oldest first, leased to the caller for ``LEASE_S``."""
        now = time.time() if now is None else now
        with self._transaction():
            rows = self._db.execute(
                "SELECT id, body, attempts FROM outbox WHERE next_try <= ?"
                " ORDER BY created LIMIT ?",
                (now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE outbox SET next_try = ? WHERE id = ?",
                [(now + LEASE_S, row[0]) for row in rows],
            )
        entries = []
        for entry_id, body, attempts in rows:
            try:
                items, query = _decode(body)
            except Exception as exc:  # written by another release, say: set aside, said once
                log_event(
                    logger,
                    logging.ERROR,
                    "memory.outbox.set_aside",
                    entry=entry_id,
                    error=repr(exc),
                )
                self._db.execute(
                    "UPDATE outbox SET next_try = ?, error = ? WHERE id = ?",
                    (NEVER, f"unreadable: {exc!r}"[:500], entry_id),
                )
                continue
            entries.append(Entry(entry_id, items, query, attempts))
        return entries

    def done(self, entry_id: str) -> None:
        """The write landed: forget it."""
        self._db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def retry_later(self, entry: Entry, error: str, now: float | None = None) -> float:
        """The write failed again: try it after a pause that doubles per attempt (1 s up to
        ``MAX_PAUSE_S``); the pause, in s."""
        now = time.time() if now is None else now
        pause = min(MAX_PAUSE_S, 2.0**entry.attempts)
        self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_try = ?, error = ? WHERE id = ?",
            (now + pause, error[:500], entry.id),
        )
        return pause

    def pending(self) -> int:
        """Writes waiting to land (leased ones included; set-aside ones not)."""
        query = "SELECT COUNT(*) FROM outbox WHERE next_try < ?"
        return int(self._db.execute(query, (NEVER,)).fetchone()[0])

    def depth(self, now: float | None = None) -> tuple[int, float]:
        """(writes waiting, age of the oldest in s; 0 when none): what an operator watches."""
        now = time.time() if now is None else now
        count, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(created) FROM outbox WHERE next_try < ?", (NEVER,)
        ).fetchone()
        return int(count), (max(0.0, now - float(oldest)) if oldest is not None else 0.0)

    def set_aside(self) -> list[tuple[str, float, str]]:
        """Entries no drainer will hand over again (unreadable): (id, created as Unix time in
        s, why), oldest first. They stay in the file for a person to look at, and do not count
        against ``max_entries``."""
        rows = self._db.execute(
            "SELECT id, created, error FROM outbox WHERE next_try >= ? ORDER BY created", (NEVER,)
        ).fetchall()
        return [(str(i), float(created), str(error)) for i, created, error in rows]

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; BEGIN IMMEDIATE, so another process's claim cannot
        interleave with this one's."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (busy, disk full) too: never leave the connection inside a
            # transaction, or every later BEGIN would fail.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise


Offload = Callable[..., Awaitable[Any]]


async def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def drain_once(
    outbox: MemoryOutbox,
    write: Callable[[list[NewMemory], str | None], Awaitable[object]],
    limit: int = 8,
    *,
    timeout_s: float = 30.0,
    offload: Offload = _inline,
) -> tuple[int, int]:
    """Hand the entries due now to ``write`` (the MemoryWriter), each within ``timeout_s``;
    (landed, failed). ``offload`` runs the outbox's (blocking) calls: inline by default."""
    landed = failed = 0
    for entry in await offload(outbox.claim, limit):
        try:
            await asyncio.wait_for(write(entry.items, entry.query), timeout_s)
        except Exception as exc:  # the store is still away (or hung): keep it, try later
            await offload(outbox.retry_later, entry, repr(exc))
            failed += 1
            continue
        await offload(outbox.done, entry.id)
        landed += 1
    return landed, failed


async def drain_forever(
    drain: Callable[[], Awaitable[tuple[int, int]]], idle_s: float = 1.0
) -> None:
    """``drain`` (a ``drain_once`` bound to its outbox) for ever: at once again while entries
    land, every ``idle_s`` (s) otherwise. Cancel the task to stop it."""
    while True:
        try:
            landed, _ = await drain()
        except Exception as exc:  # the outbox's disk: keep the replica serving, say so
            log_event(logger, logging.ERROR, "memory.outbox.unreadable", error=repr(exc))
            landed = 0
        if landed:
            log_event(logger, logging.INFO, "memory.outbox.landed", writes=landed)
        await asyncio.sleep(0 if landed else idle_s)
