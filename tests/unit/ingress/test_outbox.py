"""The memory outbox on a real SQLite file: kept, handed over, retried later, bounded, shared."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from deployments.ingress.durable.outbox import MAX_PAUSE_S, MemoryOutbox, OutboxFull, drain_once
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
