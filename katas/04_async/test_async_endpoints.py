"""Tests for kata 04 · Async endpoints.

Most tests drive the app with `httpx.AsyncClient` over `ASGITransport`, in the test's own event
loop, so requests really overlap. ASGITransport does not run the lifespan: those tests hand the
app a fake upstream by overriding `get_http_client`. The task 6 tests use `TestClient` as a
context manager, which does run the lifespan.

Timing checks compare a measured time with a threshold far from both outcomes: well above the
concurrent time (machines get busy) and below the time of waiting one after another, which
sleeps can only make longer.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

PAYLOADS = {
    "weather": {"city": "Lisbon", "celsius": 21},
    "news": {"headline": "Event loop stays responsive"},
    "calendar": {"next": "interview at 10:00"},
}
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]


def quote(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": float(ord(symbol[0]))}


def upstream_answer(request: httpx.Request, failing: Collection[str] = ()) -> httpx.Response:
    """What the upstream services answer: /weather, /news, /calendar, /quotes/{symbol}."""
    name = request.url.path.strip("/")
    if name in failing:
        return httpx.Response(503, json={"detail": "down for maintenance"}, request=request)
    if name in PAYLOADS:
        return httpx.Response(200, json=PAYLOADS[name], request=request)
    if name.startswith("quotes/"):
        return httpx.Response(200, json=quote(name.removeprefix("quotes/")), request=request)
    return httpx.Response(404, json={"detail": "no such upstream"}, request=request)


def fake_upstream(
    delays: dict[str, float] | None = None, failing: Collection[str] = ()
) -> SimpleNamespace:
    """The upstream services in memory: each call awaits its delay; calls in flight are counted.

    `delays` maps a path ("news", "quotes/AAA") or its first segment ("quotes") to seconds.
    Pass `upstream.handle` to `httpx.MockTransport`; read `calls` and `max_in_flight` after.
    """
    delays = delays or {}
    upstream = SimpleNamespace(calls=[], in_flight=0, max_in_flight=0)

    async def handle(request: httpx.Request) -> httpx.Response:
        name = request.url.path.strip("/")
        upstream.calls.append(name)
        upstream.in_flight += 1
        upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
        try:
            await asyncio.sleep(delays.get(name, delays.get(name.split("/")[0], 0)))
        finally:
            upstream.in_flight -= 1
        return upstream_answer(request, failing)

    upstream.handle = handle
    return upstream


async def no_network(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(
        f"the tests have no network: {request.method} {request.url} went through a client "
        "of the app's own making, expected the one get_http_client gives",
        request=request,
    )


@asynccontextmanager
async def serve(upstream: SimpleNamespace | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client for kata.app over ASGI, with `upstream` behind the get_http_client dependency."""
    transport = httpx.MockTransport((upstream or fake_upstream()).handle)
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream.test") as fake:

        async def fake_http_client() -> httpx.AsyncClient:
            return fake

        kata.app.dependency_overrides[kata.get_http_client] = fake_http_client
        asgi = httpx.ASGITransport(app=kata.app)  # an exception in the app fails the test
        try:
            # A client the app makes for itself would reach for the network: refuse it.
            with patch.object(httpx.AsyncHTTPTransport, "handle_async_request", no_network):
                async with httpx.AsyncClient(transport=asgi, base_url="http://test") as client:
                    yield client
        finally:
            kata.app.dependency_overrides.pop(kata.get_http_client, None)


def body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# --- Task 1: an async endpoint that awaits I/O -------------------------------------------


@pytest.mark.task(1)
@pytest.mark.asyncio
async def test_profile_comes_back_after_the_database_wait():
    async with serve() as client:
        started = time.perf_counter()
        r = await client.get("/profiles/7")
        elapsed = time.perf_counter() - started
    expected = {"user_id": 7, "name": "user-7"}
    assert r.status_code == 200, f"GET /profiles/7 → {r.status_code}, expected 200"
    assert body(r) == expected, f"GET /profiles/7 → {body(r)}, expected {expected}"
    assert elapsed >= 0.25, (
        f"GET /profiles/7 answered in {elapsed:.2f} s, expected ≥ 0.3 s: "
        "fetch_profile stands in for a query and must wait DB_LATENCY (0.3 s)"
    )


@pytest.mark.task(1)
@pytest.mark.asyncio
async def test_five_profile_requests_at_once_take_about_one_database_wait():
    async with serve() as client:
        started = time.perf_counter()
        responses = await asyncio.gather(*(client.get(f"/profiles/{i}") for i in range(5)))
        elapsed = time.perf_counter() - started
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 5, f"5 concurrent GET /profiles/{{i}} → {statuses}, expected 200s"
    assert elapsed < 1.0, (
        f"5 concurrent GET /profiles/{{i}} took {elapsed:.2f} s, expected < 1.0 s "
        "(one wait is 0.3 s, five in a row 1.5 s): something blocks the event loop while waiting"
    )


# --- Task 2: fan-out to upstreams -----------------------------------------------------------


@pytest.mark.task(2)
@pytest.mark.asyncio
async def test_dashboard_returns_each_upstream_answer_under_its_name():
    upstream = fake_upstream()
    async with serve(upstream) as client:
        r = await client.get("/dashboard")
    assert r.status_code == 200, f"GET /dashboard → {r.status_code} {body(r)}, expected 200"
    assert body(r) == PAYLOADS, f"GET /dashboard → {body(r)}, expected {PAYLOADS}"
    assert sorted(upstream.calls) == ["calendar", "news", "weather"], (
        f"GET /dashboard made the upstream calls {upstream.calls}, expected one each to "
        "/weather, /news and /calendar through the client get_http_client gives"
    )


@pytest.mark.task(2)
@pytest.mark.asyncio
async def test_dashboard_takes_about_the_slowest_upstream_not_the_sum():
    upstream = fake_upstream(delays={"weather": 0.2, "news": 0.3, "calendar": 0.4})
    async with serve(upstream) as client:
        started = time.perf_counter()
        r = await client.get("/dashboard")
        elapsed = time.perf_counter() - started
    assert r.status_code == 200, f"GET /dashboard → {r.status_code} {body(r)}, expected 200"
    assert elapsed < 0.7, (
        f"GET /dashboard took {elapsed:.2f} s with upstreams taking 0.2, 0.3 and 0.4 s, "
        "expected < 0.7 s (the slowest is 0.4 s, one after another 0.9 s): "
        "start all three calls, then wait for them together"
    )


# --- Task 3: blocking work off the event loop -----------------------------------------------


@pytest.mark.task(3)
@pytest.mark.asyncio
async def test_health_answers_while_a_report_is_rendering():
    async with serve() as client:
        started = time.perf_counter()
        report = asyncio.create_task(client.get("/reports/7"))
        await asyncio.sleep(0.1)  # by now render_report is running
        health = await client.get("/health")
        health_at = time.perf_counter() - started
        r = await report
    expected = {"report_id": 7, "content": "report 7"}
    assert r.status_code == 200, f"GET /reports/7 → {r.status_code}, expected 200"
    assert body(r) == expected, f"GET /reports/7 → {body(r)}, expected {expected}"
    assert health.status_code == 200, f"GET /health → {health.status_code}, expected 200"
    assert health_at < 0.4, (
        f"GET /health answered {health_at:.2f} s after GET /reports/7 began, expected < 0.4 s "
        "(rendering takes 0.6 s): the blocking render_report call is holding the event loop"
    )


# --- Task 4: upstream trouble becomes a gateway error ---------------------------------------


@pytest.mark.task(4)
@pytest.mark.asyncio
async def test_a_silent_upstream_is_cut_off_with_504_within_the_deadline():
    upstream = fake_upstream(delays={"news": 30})
    async with serve(upstream) as client:
        started = time.perf_counter()
        request = asyncio.ensure_future(client.get("/dashboard"))
        done, _ = await asyncio.wait({request}, timeout=3.0)
        elapsed = time.perf_counter() - started
        if not done:
            request.cancel()
            pytest.fail(
                "GET /dashboard with /news silent for 30 s had no answer after 3 s, "
                "expected 504 once UPSTREAM_TIMEOUT (0.5 s) ran out"
            )
        r = request.result()
    assert r.status_code == 504, f"GET /dashboard with /news silent → {r.status_code}, expected 504"
    detail = body(r).get("detail", "") if isinstance(body(r), dict) else ""
    assert "news" in str(detail), (
        f"GET /dashboard with /news silent → {body(r)}, expected a detail naming /news"
    )
    assert elapsed < 1.5, (
        f"GET /dashboard with /news silent took {elapsed:.2f} s to answer 504, "
        "expected < 1.5 s: the deadline is UPSTREAM_TIMEOUT = 0.5 s"
    )


@pytest.mark.task(4)
@pytest.mark.asyncio
async def test_an_upstream_answering_within_the_deadline_is_waited_for():
    upstream = fake_upstream(delays={"calendar": 0.2})
    async with serve(upstream) as client:
        r = await client.get("/dashboard")
    assert r.status_code == 200, (
        f"GET /dashboard with /calendar answering in 0.2 s → {r.status_code} {body(r)}, "
        "expected 200: the deadline is UPSTREAM_TIMEOUT = 0.5 s"
    )


@pytest.mark.task(4)
@pytest.mark.asyncio
async def test_an_upstream_error_becomes_502():
    upstream = fake_upstream(failing={"weather"})
    async with serve(upstream) as client:
        r = await client.get("/dashboard")
    assert r.status_code == 502, (
        f"GET /dashboard with /weather answering 503 → {r.status_code} {body(r)}, expected 502"
    )
    detail = body(r).get("detail", "") if isinstance(body(r), dict) else ""
    assert "weather" in str(detail), (
        f"GET /dashboard with /weather answering 503 → {body(r)}, expected a detail naming /weather"
    )


# --- Task 5: bounded concurrency ------------------------------------------------------------


@pytest.mark.task(5)
@pytest.mark.asyncio
async def test_prices_come_back_in_the_order_asked():
    # Later symbols answer first, so results in completion order would be reversed.
    delays = {f"quotes/{s}": 0.01 * (len(SYMBOLS) - i) for i, s in enumerate(SYMBOLS)}
    async with serve(fake_upstream(delays)) as client:
        r = await client.get("/prices", params={"symbols": SYMBOLS})
    expected = [quote(s) for s in SYMBOLS]
    assert r.status_code == 200, f"GET /prices?symbols=AAA…GGG → {r.status_code}, expected 200"
    assert body(r) == expected, f"GET /prices?symbols=AAA…GGG → {body(r)}, expected {expected}"


@pytest.mark.task(5)
@pytest.mark.asyncio
async def test_prices_keep_at_most_three_upstream_calls_in_flight():
    upstream = fake_upstream(delays={"quotes": 0.1})
    async with serve(upstream) as client:
        r = await client.get("/prices", params={"symbols": SYMBOLS})
    seen = upstream.max_in_flight
    assert r.status_code == 200, f"GET /prices with 7 symbols → {r.status_code}, expected 200"
    assert seen <= 3, (
        f"GET /prices with 7 symbols had {seen} upstream calls in flight at once, "
        "expected at most 3 (MAX_UPSTREAM_CONCURRENCY)"
    )
    assert seen == 3, (
        f"GET /prices with 7 symbols had at most {seen} upstream call(s) in flight at once, "
        "expected 3: the limit is a ceiling to use, not one call at a time"
    )


# --- Task 6: one client for the app's whole life --------------------------------------------


@pytest.mark.task(6)
def test_lifespan_opens_the_client_at_startup_and_closes_it_at_shutdown(monkeypatch):
    monkeypatch.delattr(kata.app.state, "http_client", raising=False)
    with TestClient(kata.app):
        shared = getattr(kata.app.state, "http_client", None)
        assert isinstance(shared, httpx.AsyncClient), (
            f"after startup app.state.http_client is {shared!r}, "
            "expected the httpx.AsyncClient the lifespan opened"
        )
        assert not shared.is_closed, "after startup app.state.http_client is closed, expected open"
    assert shared.is_closed, (
        "after shutdown app.state.http_client is still open, expected the lifespan to close it"
    )


@pytest.mark.task(6)
def test_every_upstream_call_goes_through_the_lifespan_client(monkeypatch):
    used: list[httpx.AsyncClient] = []

    async def record_send(self: httpx.AsyncClient, request: httpx.Request, **_: Any):
        used.append(self)  # no network: every AsyncClient answers like the upstreams
        return upstream_answer(request)

    monkeypatch.setattr(httpx.AsyncClient, "send", record_send)
    with TestClient(kata.app) as client:
        shared = getattr(kata.app.state, "http_client", None)
        statuses = [client.get("/dashboard").status_code for _ in range(2)]
        statuses.append(client.get("/prices", params={"symbols": ["AAA", "BBB"]}).status_code)
    assert statuses == [200, 200, 200], (
        f"GET /dashboard twice then GET /prices → {statuses}, expected 200s"
    )
    assert used, "GET /dashboard and GET /prices made no upstream calls, expected 8"
    others = {id(c) for c in used if c is not shared}
    assert not others, (
        f"3 requests made {len(used)} upstream calls through {len(others)} client(s) "
        "other than app.state.http_client, expected every call through the lifespan's client"
    )
