"""When the clients retry, how long they wait, and when they give up (a fake clock: no waits)."""

from __future__ import annotations

import random

import httpx
import pytest

from arm_client import (
    ArmConnectionError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from arm_client._core import Retries, parse_retry_after
from arm_client.errors import ArmApiError
from tests.unit.client.fakes import HEALTH, Arm, FakeTime, async_client, client, error, ok
from tests.unit.client.fakes import research_response as answer


def busy(retry_after: str | None = "3", status: int = 503, rid: str = "rid-busy") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    kind = "stage_unavailable" if status == 503 else "overloaded"
    return error(status, kind, "come back later", rid=rid, headers=headers)


def test_a_retry_waits_retry_after_and_reuses_the_idempotency_key() -> None:
    time = FakeTime()
    arm = Arm([busy("3"), busy("1", status=429), ok(answer())])
    with client(arm, time) as arm_client:
        arm_client.execute("graph neural networks", idempotency_key="my-key")
    assert time.sleeps == [3.0, 1.0]
    assert [r.headers["Idempotency-Key"] for r in arm.requests] == ["my-key"] * 3
    # One key for the call, one request id per attempt.
    assert len({r.headers["X-Request-ID"] for r in arm.requests}) == 3
    assert arm.bodies()[0] == arm.bodies()[2]


def test_a_lost_answer_to_execute_is_retried_with_the_same_generated_key() -> None:
    time = FakeTime()
    arm = Arm([httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), ok(answer())])
    with client(arm, time, rng=random.Random(1)) as arm_client:
        arm_client.execute("graph neural networks")
    keys = {r.headers["Idempotency-Key"] for r in arm.requests}
    assert len(arm.requests) == 3 and len(keys) == 1
    # Exponential backoff with jitter: half the step plus up to half again (0.5 s, then 1 s).
    assert 0.25 <= time.sleeps[0] <= 0.5 and 0.5 <= time.sleeps[1] <= 1.0


def test_two_calls_get_two_keys() -> None:
    arm = Arm([ok(answer())])
    with client(arm) as arm_client:
        arm_client.execute("graph neural networks")
        arm_client.execute("graph neural networks")
    assert len({r.headers["Idempotency-Key"] for r in arm.requests}) == 2


def test_retries_stop_at_the_budget_and_raise_the_last_error() -> None:
    time = FakeTime()
    arm = Arm([busy("4", rid=f"rid-{n}") for n in (1, 2, 3, 4)] + [ok(HEALTH)])
    with client(arm, time, retry_budget_s=10.0) as arm_client, pytest.raises(UnavailableError) as e:
        arm_client.capabilities()
    # 4 s, 4 s; then 2 s are left, less than the 4 s the arm asked for: never retried sooner,
    # so the third answer is the error raised.
    assert time.sleeps == [4.0, 4.0]
    assert len(arm.requests) == 3
    assert e.value.request_id == "rid-3" and e.value.retry_after_s == 4.0


def test_retries_stop_at_max_retries() -> None:
    time = FakeTime()
    arm = Arm([busy("1", rid="rid-a"), busy("1", rid="rid-b"), busy("1", rid="rid-last")])
    with client(arm, time, max_retries=2) as arm_client, pytest.raises(UnavailableError) as e:
        arm_client.capabilities()
    assert len(arm.requests) == 3 and time.sleeps == [1.0, 1.0]
    assert e.value.request_id == "rid-last" and "rid-last" in str(e.value)


def test_time_spent_in_requests_counts_against_the_budget() -> None:
    time = FakeTime()

    def slow_busy(request: httpx.Request) -> httpx.Response:
        time.now += 8.0  # the attempt itself took 8 s
        return busy("5")

    arm = Arm([slow_busy])
    with client(arm, time, retry_budget_s=10.0) as arm_client, pytest.raises(UnavailableError):
        arm_client.capabilities()
    assert time.sleeps == []  # 2 s left after the first, less than its Retry-After (5 s)
    assert len(arm.requests) == 1


@pytest.mark.parametrize(
    ("status", "kind", "raised"),
    [
        (400, "bad_request", BadRequestError),
        (404, "not_found", NotFoundError),
        (413, "payload_too_large", ArmApiError),
        (500, "internal_error", ArmApiError),
    ],
)
def test_other_errors_are_not_retried(status: int, kind: str, raised: type) -> None:
    time = FakeTime()
    arm = Arm([error(status, kind, "no", rid="rid-x"), ok(answer())])
    with client(arm, time) as arm_client, pytest.raises(raised) as caught:
        arm_client.execute("graph neural networks")
    assert len(arm.requests) == 1 and time.sleeps == []
    assert caught.value.status == status and "rid-x" in str(caught.value)


def test_a_lost_answer_to_forget_is_not_retried() -> None:
    time = FakeTime()
    arm = Arm([httpx.ReadTimeout("slow"), httpx.Response(204)])
    with client(arm, time) as arm_client, pytest.raises(ArmConnectionError) as caught:
        arm_client.forget_paper("2402.00003")
    assert len(arm.requests) == 1
    assert caught.value.status is None and caught.value.error == "client_timeout"
    assert caught.value.request_id == arm.requests[0].headers["X-Request-ID"]
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_a_503_to_forget_is_retried() -> None:
    arm = Arm([busy("1"), httpx.Response(204)])
    with client(arm) as arm_client:
        arm_client.forget_paper("2402.00003")
    assert len(arm.requests) == 2


def test_a_connection_that_never_comes_back_raises_a_connection_error() -> None:
    time = FakeTime()
    arm = Arm([httpx.ConnectError("refused")])
    with client(arm, time, retry_budget_s=5.0) as arm_client, pytest.raises(ArmConnectionError):
        arm_client.health()
    assert sum(time.sleeps) == pytest.approx(5.0) and len(arm.requests) == len(time.sleeps) + 1


async def test_the_async_client_keeps_the_same_budget() -> None:
    time = FakeTime()
    arm = Arm([busy("30", status=429)])
    async with async_client(arm, time, retry_budget_s=12.0) as arm_client:
        with pytest.raises(RateLimitedError) as caught:
            await arm_client.search_memory("graphs")
    assert time.sleeps == [] and len(arm.requests) == 1  # 30 s asked, 12 s allowed: no retry
    assert caught.value.retry_after_s == 30.0


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after(date, now=1445412480.0 - 10) == pytest.approx(10.0)


def test_backoff_grows_and_is_capped() -> None:
    time = FakeTime()
    retries = Retries(1000.0, 20, clock=time.clock, rng=random.Random(0))
    lost = ArmConnectionError(None, "connection_error", "refused")
    waits = [retries.wait_before_retry(lost) for _ in range(8)]
    assert all(w is not None for w in waits)
    assert waits[0] <= 0.5 and waits[-1] <= 10.0 and waits[-1] >= 5.0
