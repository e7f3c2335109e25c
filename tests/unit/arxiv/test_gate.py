"""The arXiv gate under failure: a restarted gate keeps its predecessor's interval and
Retry-After, a turn granted to a caller that gave up comes back at once, and a live interval
under arXiv's 3 s is refused on arXiv's own hosts."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from deployments.arxiv.gate import GateHandle, IntervalGate
from models.settings import Settings
from tests.conftest import FakeClock


class Record:
    """A ``HoldOffStore`` in memory: what the cluster's key-value store keeps across a restart."""

    def __init__(self, not_before: float | None = None, *, broken: bool = False) -> None:
        self.not_before = not_before
        self.broken = broken

    def load(self) -> float | None:
        return self.not_before

    def save(self, not_before: float) -> None:
        if self.broken:
            raise OSError("the store is away")
        self.not_before = not_before


def _gate(record: Record, clock: FakeClock, interval_s: float = 3.0) -> IntervalGate:
    # One fake clock for both: wall time (epoch) and monotonic time move together.
    return IntervalGate(
        interval_s, hold_off=record, clock=clock, wall_clock=clock, sleep=clock.sleep
    )


async def test_a_first_gate_grants_at_once(clock: FakeClock) -> None:
    gate = _gate(Record(), clock)
    _, waited = await gate.acquire()
    assert waited == 0.0


async def test_a_restarted_gate_waits_a_full_interval_first(clock: FakeClock) -> None:
    record = Record()
    first = _gate(record, clock)
    token, _ = await first.acquire()
    await first.release(token)  # a request just went out; then the replica died
    successor = _gate(record, clock)
    _, waited = await successor.acquire()
    assert waited == pytest.approx(3.0)


async def test_a_restarted_gate_honours_a_pending_retry_after(clock: FakeClock) -> None:
    record = Record()
    first = _gate(record, clock)
    token, _ = await first.acquire()
    await first.release(token, hold_off_s=30.0)  # arXiv said Retry-After: 30
    await clock.sleep(10.0)  # the replica restarts 10 s later
    successor = _gate(record, clock)
    _, waited = await successor.acquire()
    assert waited == pytest.approx(20.0)  # the 20 s left, not 3, not 30


async def test_a_gate_whose_store_fails_still_serves(clock: FakeClock) -> None:
    gate = _gate(Record(broken=True), clock)
    token, _ = await gate.acquire()
    await gate.release(token, hold_off_s=5.0)
    _, waited = await gate.acquire()
    assert waited == pytest.approx(5.0)


class _Response:
    """A DeploymentResponse as GateHandle uses it: awaitable once, ``cancel()`` best effort
    (Serve cannot take back an answer already on its way)."""

    def __init__(self, work: Any) -> None:
        self._task = asyncio.ensure_future(work)
        self.cancel_asked = False

    def cancel(self) -> None:
        self.cancel_asked = True
        self._task.cancel()  # reaches the gate only if its answer is not made yet

    def __await__(self) -> Any:
        return self._task.__await__()


class _Handle:
    """An ArxivGate handle whose answers spend ``transit_s`` on the wire."""

    def __init__(self, gate: IntervalGate, transit_s: float) -> None:
        self.gate, self.transit_s = gate, transit_s
        self.responses: list[_Response] = []

        async def acquire(ticket: str) -> tuple[int, float]:
            answer = await self.gate.acquire(ticket)
            await asyncio.sleep(self.transit_s)  # granted: the answer travels (and may be lost)
            return answer

        def remote_acquire(ticket: str) -> _Response:
            self.responses.append(_Response(acquire(ticket)))
            return self.responses[-1]

        self.acquire = SimpleNamespace(remote=remote_acquire)
        self.abandon = SimpleNamespace(remote=lambda ticket: _Response(self.gate.abandon(ticket)))
        self.release = SimpleNamespace(remote=lambda *args: _Response(self.gate.release(*args)))


async def test_a_turn_granted_to_a_caller_that_gave_up_comes_back_at_once() -> None:
    gate = IntervalGate(0.0, lease_s=120.0)
    handle = GateHandle(_Handle(gate, transit_s=0.2))
    caller = asyncio.create_task(handle.acquire())
    await asyncio.sleep(0.05)  # the gate granted the turn; the answer is on its way
    caller.cancel()  # ... and the search that asked is cancelled: Serve drops the answer
    with pytest.raises(asyncio.CancelledError):
        await caller
    # The next search gets its turn at once, not after the 120 s lease.
    _, waited = await asyncio.wait_for(gate.acquire(), timeout=5.0)
    assert waited < 1.0


async def test_a_caller_that_gives_up_while_queued_leaves_nothing_held() -> None:
    gate = IntervalGate(0.0)
    held, _ = await gate.acquire()  # someone else's turn: the next caller queues
    remote = _Handle(gate, transit_s=0.0)
    caller = asyncio.create_task(GateHandle(remote).acquire())
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert remote.responses[0].cancel_asked  # the wait in the gate was cancelled too
    await gate.release(held)
    _, waited = await asyncio.wait_for(gate.acquire(), timeout=5.0)
    assert waited < 1.0


def test_a_live_interval_under_arxivs_limit_keeps_3_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray import serve

    from deployments.arxiv import gate_deployment

    kept: dict[str, bytes] = {}
    monkeypatch.setattr(serve, "get_replica_context", lambda: SimpleNamespace(app_name="arm"))
    kv = gate_deployment.internal_kv
    monkeypatch.setattr(kv, "_internal_kv_get", lambda key, namespace: kept.get(key))
    monkeypatch.setattr(
        kv, "_internal_kv_put", lambda key, value, namespace: kept.update({key: value})
    )
    cls = gate_deployment.ArxivGate.func_or_class
    gate = cls(Settings().for_stages().gate)  # arXiv's own URL
    gate.reconfigure({"min_interval_s": 1.0})  # logged as an error; the gate stays up
    assert gate.gate.min_interval_s == 3.0
    gate.reconfigure({"min_interval_s": 5.0})
    assert gate.gate.min_interval_s == 5.0
    mirror = Settings(arxiv_api_url="http://mirror.local/api/query", arxiv_min_interval_s=3.0)
    fast = cls(mirror.for_stages().gate)
    fast.reconfigure({"min_interval_s": 0.5})  # not arXiv's: the operator's call
    assert fast.gate.min_interval_s == 0.5


async def test_a_waiter_cancelled_as_it_is_woken_passes_the_turn_on() -> None:
    gate = IntervalGate(0.0, lease_s=120.0)
    held, _ = await gate.acquire()
    first, second = asyncio.create_task(gate.acquire()), asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)  # both wait, the first in line
    async with gate._cond:  # in one turn of the event loop, as a release and a cancel can:
        first.cancel()  # the first in line is cancelled ...
        gate._release_locked(held, 0.0)  # ... and the wake-up goes to it before it runs
    _, waited = await asyncio.wait_for(second, timeout=2.0)  # not after the 120 s lease
    assert waited < 1.0


async def test_a_turn_abandoned_before_its_grant_is_handed_on_unused(clock: FakeClock) -> None:
    gate = IntervalGate(3.0, clock=clock, sleep=clock.sleep)
    await gate.abandon("gone")  # the cancel overtook the request it cancels
    await gate.acquire("gone")  # granted, and handed straight on: no request went out
    _, waited = await gate.acquire("next")
    assert waited == 0.0 and gate.turns == 1  # and the interval did not restart for nothing
