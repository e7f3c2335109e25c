"""The memory outbox on a real SQLite file: kept, handed over, retried later, bounded, shared;
and its loss paths: full, an unreadable entry, a drainer killed holding its lease."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from deployments.ingress.durable.outbox import (
    LEASE_S,
    MAX_PAUSE_S,
    MemoryOutbox,
    OutboxFull,
    drain_once,
)
from deployments.ingress.durable.writes import DurableWrites
from models.contracts import NewMemory
from models.paper import Paper


def item(n: int, summary: str | None = "a TLDR") -> NewMemory:
    paper = Paper(
        arxiv_id=f"2401.{n:05d}",
        version=2,
        title=f"Paper {n}",
        abstract="An abstract.",
        url=f"https://arxiv.org/abs/2401.{n:05d}v2",
        published_date=date(2024, 1, 2),
    )
    vector = np.random.default_rng(n).normal(size=384).astype(np.float32)
    return NewMemory(paper, vector / np.linalg.norm(vector), summary)


def test_an_entry_comes_back_exactly_as_it_went_in(tmp_path: Path) -> None:
    outbox = MemoryOutbox(tmp_path / "o.sqlite")
    written = [item(1), item(2, None)]
    outbox.add(written, "graph networks")
    (entry,) = outbox.claim()
    assert entry.query == "graph networks" and entry.attempts == 0
    for got, want in zip(entry.items, written, strict=True):
        assert got.paper == want.paper and got.summary == want.summary
        assert np.array_equal(got.vector, want.vector)  # float32 bytes: exact


def test_a_claimed_entry_is_leased_and_a_failed_one_waits_longer_each_time(
    tmp_path: Path,
) -> None:
    outbox = MemoryOutbox(tmp_path / "o.sqlite")
    outbox.add([item(1)], "q")
    now = time.time() + 1
    (entry,) = outbox.claim(now=now)
    assert outbox.claim(now=now + 1) == []  # leased: another drainer does not get it
    pauses = []
    for attempt in range(7):
        pauses.append(outbox.retry_later(entry, "store away", now=now))
        entry.attempts = attempt + 1
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_PAUSE_S, MAX_PAUSE_S]
    assert outbox.claim(now=now + MAX_PAUSE_S - 1) == []
    assert [e.attempts for e in outbox.claim(now=now + MAX_PAUSE_S)] == [7]


def test_the_outbox_is_bounded(tmp_path: Path) -> None:
    outbox = MemoryOutbox(tmp_path / "o.sqlite", max_entries=2)
    outbox.add([item(1)], "a")
    outbox.add([item(2)], "b")
    with pytest.raises(OutboxFull):
        outbox.add([item(3)], "c")
    assert outbox.pending() == 2


def test_replicas_sharing_the_file_never_hand_over_the_same_entry(tmp_path: Path) -> None:
    """Two replicas (connections) claiming at the same time, one entry at a time."""
    replicas = [MemoryOutbox(tmp_path / "o.sqlite"), MemoryOutbox(tmp_path / "o.sqlite")]
    for n in range(60):
        replicas[0].add([item(n)], f"q{n}")
    claimed: list[list[str]] = [[], []]

    def drain(k: int) -> None:
        while entries := replicas[k].claim(limit=1):
            claimed[k].extend(e.id for e in entries)

    threads = [threading.Thread(target=drain, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both = claimed[0] + claimed[1]
    assert len(both) == len(set(both)) == 60


def test_entries_survive_a_restart_and_drain_once_the_store_answers(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    before = MemoryOutbox(path)
    before.add([item(1)], "a")
    before.add([item(2)], "b")
    before.close()  # the replica dies; its successor opens the same file
    after = MemoryOutbox(path)
    landed: list[tuple[str, str | None]] = []
    answering = False

    async def write(items: list[NewMemory], query: str | None) -> int:
        if not answering:
            raise ConnectionError("store away")
        landed.extend((i.paper.arxiv_id, query) for i in items)
        return len(items)

    assert asyncio.run(drain_once(after, write)) == (0, 2) and after.pending() == 2
    assert asyncio.run(drain_once(after, write)) == (0, 0)  # pausing: not due yet
    answering = True
    time.sleep(1.1)  # the first pause
    assert asyncio.run(drain_once(after, write)) == (2, 0)
    assert sorted(landed) == [("2401.00001", "a"), ("2401.00002", "b")] and after.pending() == 0


# The loss paths: what happens to a write when the outbox, or the process that drains it, fails.


def test_a_full_outbox_refuses_the_write_and_the_answer_says_it_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The one documented loss: the store away and the outbox full. The caller is told, and
    the writes already kept stay kept."""
    outbox = MemoryOutbox(tmp_path / "o.sqlite", max_entries=1)
    outbox.add([item(1)], "kept before")

    async def store_away(items: list[NewMemory], query: str | None) -> int:
        raise ConnectionError("store away")

    writes = DurableWrites(store_away, outbox, timeout_s=1.0)
    try:
        with caplog.at_level(logging.INFO, logger="ray.serve.arm"):
            deferred, warning = asyncio.run(writes.store([item(2)], "refused"))
    finally:
        writes.close()
    (lost,) = [r for r in caplog.records if getattr(r, "event", None) == "memory.write.lost"]
    assert lost.levelno == logging.ERROR and vars(lost)["arxiv_ids"] == "2401.00002"
    assert deferred == 0 and warning is not None
    assert warning.code == "memory_write_lost" and warning.stage == "memory"
    assert "store away" in warning.message and "1 memory writes pending" in warning.message
    reopened = MemoryOutbox(tmp_path / "o.sqlite")
    assert [e.query for e in reopened.claim()] == ["kept before"]


def test_an_unreadable_entry_is_set_aside_and_the_rest_drain(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    outbox = MemoryOutbox(path)
    outbox.add([item(1)], "before")
    broken = outbox.add([item(2)], "broken")
    outbox.add([item(3)], "after")
    with sqlite3.connect(path) as db:  # written by another release, or a torn disk block
        db.execute("UPDATE outbox SET body = ? WHERE id = ?", ('{"items": [{"paper"', broken))
    landed: list[str | None] = []

    async def write(items: list[NewMemory], query: str | None) -> int:
        landed.append(query)
        return len(items)

    assert asyncio.run(drain_once(outbox, write)) == (2, 0) and landed == ["before", "after"]
    # Kept for a person to look at, with the reason, and never handed over again.
    assert outbox.set_aside() == [(broken, pytest.approx(time.time(), abs=60), ANY_UNREADABLE)]
    assert outbox.claim(now=time.time() + 10 * LEASE_S) == [] and outbox.pending() == 0


class _Unreadable:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("unreadable: ")


ANY_UNREADABLE = _Unreadable()

# A drainer in another process: it keeps ``added`` writes, claims ``claimed`` of them, and is
# killed (SIGKILL: no cleanup) while holding them, in the middle of a transaction of its own.
DYING_DRAINER = """
import os, signal, sys
sys.path[:0] = {paths!r}
from tests.unit.ingress.test_outbox import item
from deployments.ingress.durable.outbox import MemoryOutbox
outbox = MemoryOutbox({path!r})
for n in range({added}):
    outbox.add([item(n)], f"query {{n}}")
outbox.claim(limit={claimed})
outbox._db.execute("BEGIN IMMEDIATE")  # the write lock, held as it dies
os.kill(os.getpid(), signal.SIGKILL)
"""


def _die_draining(path: Path, added: int, claimed: int) -> None:
    code = DYING_DRAINER.format(paths=sys.path, path=str(path), added=added, claimed=claimed)
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def test_a_lease_expires_after_its_drainer_dies(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    _die_draining(path, added=3, claimed=2)
    survivor = MemoryOutbox(path)  # the dead process's lock went with it
    (free,) = survivor.claim()  # the one it never claimed
    assert free.query == "query 2"
    survivor.done(free.id)
    with sqlite3.connect(path) as db:  # when the dead drainer's lease ends
        (lease_end,) = db.execute("SELECT MAX(next_try) FROM outbox").fetchone()
    assert lease_end > time.time() + LEASE_S - 60
    assert survivor.claim(now=lease_end - 1) == []  # the other two: leased still
    back = survivor.claim(now=lease_end)
    assert sorted(e.query or "" for e in back) == ["query 0", "query 1"]
    assert all(e.attempts == 0 for e in back)  # a lost lease is not a failed attempt


def test_a_new_ingress_replica_drains_a_dead_ones_entries(tmp_path: Path) -> None:
    """The same file, a new process: every write the dead replica kept lands once, the ones it
    held leased after their lease."""
    path = tmp_path / "o.sqlite"
    _die_draining(path, added=5, claimed=1)
    successor = MemoryOutbox(path)
    landed: list[str] = []

    async def write(items: list[NewMemory], query: str | None) -> int:
        landed.extend(i.paper.arxiv_id for i in items)
        return len(items)

    assert asyncio.run(drain_once(successor, write)) == (4, 0)
    with sqlite3.connect(path) as db:  # time passes: the dead one's lease ends
        db.execute("UPDATE outbox SET next_try = next_try - ?", (LEASE_S,))
    assert asyncio.run(drain_once(successor, write)) == (1, 0)
    assert sorted(landed) == [f"2401.{n:05d}" for n in range(5)] and successor.pending() == 0


def test_two_drainers_racing_land_every_write_once(tmp_path: Path) -> None:
    """Two Ingress replicas' drainers on one file, each with its own connection and loop, the
    store refusing every entry's first try: each write lands exactly once."""
    path = tmp_path / "o.sqlite"
    MemoryOutbox(path).add([item(0)], "seed")
    writer = MemoryOutbox(path)
    for n in range(1, 40):
        writer.add([item(n)], f"q{n}")
    landed: list[str] = []
    tried: set[str] = set()
    lock = threading.Lock()

    async def write(items: list[NewMemory], query: str | None) -> int:
        await asyncio.sleep(0.001)
        with lock:
            arxiv_id = items[0].paper.arxiv_id
            if arxiv_id not in tried:
                tried.add(arxiv_id)
                raise ConnectionError("store away")
            landed.append(arxiv_id)
        return 1

    def drainer() -> None:
        outbox = MemoryOutbox(path)
        deadline = time.monotonic() + 30
        while outbox.pending() and time.monotonic() < deadline:
            asyncio.run(drain_once(outbox, write, limit=3))
            time.sleep(0.05)

    threads = [threading.Thread(target=drainer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(landed) == [f"2401.{n:05d}" for n in range(40)]
    assert writer.pending() == 0


def test_the_outbox_reports_its_depth_and_oldest_age(tmp_path: Path) -> None:
    outbox = MemoryOutbox(tmp_path / "o.sqlite")
    assert outbox.depth() == (0, 0.0)
    outbox.add([item(1)], "a")
    outbox.add([item(2)], "b")
    entries, age = outbox.depth(now=time.time() + 30)
    assert entries == 2 and 29 <= age <= 31
    reports: list[tuple[int, float]] = []

    async def store_away(items: list[NewMemory], query: str | None) -> int:
        raise ConnectionError("store away")

    async def one_round() -> None:
        reported = asyncio.Event()

        def report(entries: int, oldest_age_s: float) -> None:
            reports.append((entries, oldest_age_s))
            reported.set()

        writes = DurableWrites(store_away, outbox)
        drainer = asyncio.create_task(writes.drain_forever(report))
        try:
            await asyncio.wait_for(reported.wait(), 10)
        finally:
            drainer.cancel()
            writes.close()

    asyncio.run(one_round())
    assert reports[0][0] == 2  # still waiting: the store is away
