"""Kata 04 · Async endpoints — what the gateway must do. Run: nox -s async

The app runs as it would in production: its settings come from GATEWAY_* environment variables
and its lifespan opens the upstream client. The upstream services are a real HTTP server, faked
in a thread of the test: it listens on the Unix socket named by GATEWAY_UPSTREAM_SOCKET, waits a
delay the test chooses per path, and records every call, the calls in flight and the connections
the app opens and closes.

Timing checks sit far from both outcomes: each threshold is well above what the right code takes
(a busy machine only adds to that) and well below the least the wrong code can take (a sleep
never ends early). Each test first sends one request that is not timed, so starting the app does
not count.
"""

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

SOCKET = "upstream.sock"  # in the test's working folder, which the app shares
UPSTREAM_HOST = "upstream.test"
PAYLOADS = {
    "weather": {"city": "Lisbon", "celsius": 21},
    "news": {"headline": "Event loop stays responsive"},
    "calendar": {"next": "interview at 10:00"},
}
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]


def quote(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": float(ord(symbol[0]))}


def new_upstream() -> SimpleNamespace:
    """The weather, news, calendar and quote services, faked (serve them with `running`).

    Before the requests, set `delays` (seconds before answering), `trickles` (seconds over which
    the body arrives, a few bytes at a time, after the headers came at once) and `statuses`, per
    path ("news", "quotes/AAA") or per first segment ("quotes"). After them, read `calls` (each
    with its name, the Host header it came with, and when it started and ended),
    `max_in_flight`, and the connections the app `opened` and still has `open`.
    """
    return SimpleNamespace(
        delays={}, trickles={}, statuses={}, calls=[], in_flight=0, max_in_flight=0,
        opened=0, open=0, lock=threading.Lock(), tasks=set(),
    )  # fmt: skip


def setting(table: dict[str, Any], name: str, default: Any) -> Any:
    return table.get(name, table.get(name.split("/")[0], default))


def upstream_answer(up: SimpleNamespace, name: str) -> tuple[int, dict[str, Any]]:
    status = setting(up.statuses, name, 200)
    if status != 200:
        return status, {"detail": f"upstream trouble ({status})"}
    if name in PAYLOADS:
        return 200, PAYLOADS[name]
    if name.startswith("quotes/"):
        return 200, quote(name.removeprefix("quotes/"))
    return 404, {"detail": "no such upstream"}


async def serve_connection(
    up: SimpleNamespace, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """HTTP/1.1 with keep-alive: one request after another on this connection."""
    up.tasks.add(asyncio.current_task())
    with up.lock:
        up.opened += 1
        up.open += 1
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            target = head[0].split(" ")[1]
            headers = {
                key.strip().lower(): value.strip()
                for key, _, value in (line.partition(":") for line in head[1:] if line)
            }
            if int(headers.get("content-length", 0)):
                await reader.readexactly(int(headers["content-length"]))
            await respond(up, writer, target.split("?")[0].strip("/"), headers.get("host", ""))
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
        pass  # the app closed the connection (or sent something that is not HTTP)
    except asyncio.CancelledError:
        pass  # the test is over
    finally:
        with up.lock:
            up.open -= 1
        writer.close()


async def respond(up: SimpleNamespace, writer: asyncio.StreamWriter, name: str, host: str) -> None:
    call = SimpleNamespace(name=name, host=host, started=time.monotonic(), ended=None)
    with up.lock:
        up.calls.append(call)
        up.in_flight += 1
        up.max_in_flight = max(up.max_in_flight, up.in_flight)
    try:
        await asyncio.sleep(setting(up.delays, name, 0.0))
        status, payload = upstream_answer(up, name)
        trickle = setting(up.trickles, name, 0.0)
        body = json.dumps(payload).encode() + b" " * (40 if trickle else 0)
        writer.write(
            f"HTTP/1.1 {status} Upstream\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
        )
        pieces = [body[i : i + 4] for i in range(0, len(body), 4)] if trickle else [body]
        for piece in pieces:
            await writer.drain()
            await asyncio.sleep(trickle / len(pieces))
            writer.write(piece)
        await writer.drain()
    finally:
        call.ended = time.monotonic()
        with up.lock:
            up.in_flight -= 1


@contextmanager
def running(up: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """Serve the fake upstream on SOCKET, in a thread with an event loop of its own."""
    started = threading.Event()
    control: dict[str, Any] = {}

    async def serve() -> None:
        control["loop"], control["stop"] = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_unix_server(
            lambda reader, writer: serve_connection(up, reader, writer), path=SOCKET
        )
        started.set()
        await control["stop"].wait()
        server.close()
        for task in up.tasks:  # the connections still open, some in the middle of a delay
            task.cancel()
        await asyncio.gather(*up.tasks, return_exceptions=True)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert started.wait(10), "the fake upstream did not start"
    try:
        yield up
    finally:
        control["loop"].call_soon_threadsafe(control["stop"].set)
        thread.join(10)


def forget(up: SimpleNamespace) -> None:
    """Forget the calls so far (a warm-up's), but not the connections."""
    with up.lock:
        up.calls.clear()
        up.max_in_flight = up.in_flight


def names(up: SimpleNamespace) -> list[str]:
    with up.lock:
        return [call.name for call in up.calls]


def open_connections_after(up: SimpleNamespace, seconds: float) -> int:
    """Connections still open once `seconds` have passed (or fewer, if all are closed)."""
    deadline = time.monotonic() + seconds
    while up.open and time.monotonic() < deadline:
        time.sleep(0.02)
    return up.open


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    """The app's settings: the fake upstream's socket and host, and the default deadline and limit."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_UPSTREAM_URL", f"http://{UPSTREAM_HOST}")
    monkeypatch.setenv("GATEWAY_UPSTREAM_SOCKET", SOCKET)
    for name in ("GATEWAY_UPSTREAM_TIMEOUT", "GATEWAY_MAX_UPSTREAM_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def upstream(settings_env):
    with running(new_upstream()) as fake:
        yield fake


@pytest.fixture
def client(upstream):
    """The app with its lifespan running (that is where its upstream client comes from)."""
    with TestClient(kata.app) as client:
        assert client.get("/health").status_code == 200, "GET /health → not 200, expected 200"
        yield client


def body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def detail(response: httpx.Response) -> str:
    answer = body(response)
    return str(answer.get("detail", "")) if isinstance(answer, dict) else ""


def warm_up(client: TestClient, upstream: SimpleNamespace, url: str, **kwargs: Any) -> None:
    """One request that is not timed, so the first call's costs (imports, connections) do not count."""
    client.get(url, **kwargs)
    forget(upstream)


def timed(client: TestClient, url: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(url, **kwargs)
    return response, time.perf_counter() - started


async def asgi_get(path: str) -> SimpleNamespace:
    """GET `path` from the app with a bare ASGI call: far less work per request than a client."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }  # fmt: skip
    sent, status, chunks = False, [], []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away before the answer
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await kata.app(scope, receive, send)
    raw = b"".join(chunks)
    try:
        return SimpleNamespace(status=status[0], body=json.loads(raw))
    except ValueError:
        return SimpleNamespace(status=status[0], body=raw.decode(errors="replace"))


async def at_once(paths: list[str], within: float) -> tuple[list[SimpleNamespace], float]:
    """GET every path at the same moment; the answers and the seconds until the last one.

    A request still unanswered `within` seconds fails the test (the app is not waited for).
    """
    assert (await asgi_get("/health")).status == 200, "GET /health → not 200, expected 200"
    started = time.perf_counter()
    requests = [asyncio.ensure_future(asgi_get(path)) for path in paths]
    _, pending = await asyncio.wait(requests, timeout=within)
    elapsed = time.perf_counter() - started
    for request in pending:
        request.cancel()
    if pending:
        pytest.fail(
            f"{len(paths)} requests sent at once ({paths[0]} …): {len(pending)} still had no "
            f"answer after {within:g} s; something blocks the event loop or queues them"
        )
    return [request.result() for request in requests], elapsed


# --- Task 1: an async endpoint that awaits I/O -------------------------------------------------


@pytest.mark.task(1)
@pytest.mark.asyncio
async def test_profile_comes_back_after_the_database_wait(settings_env):
    [answer], elapsed = await at_once(["/profiles/7"], within=5)
    expected = {"user_id": 7, "name": "user-7"}
    assert answer.status == 200, f"GET /profiles/7 → {answer.status}, expected 200"
    assert answer.body == expected, f"GET /profiles/7 → {answer.body}, expected {expected}"
    assert elapsed >= 0.95, (
        f"GET /profiles/7 answered in {elapsed:.2f} s, expected at least DB_LATENCY (1.0 s): "
        "fetch_profile stands in for a slow query and must wait that long"
    )


@pytest.mark.task(1)
@pytest.mark.asyncio
async def test_five_profile_requests_at_once_take_about_one_database_wait(settings_env):
    answers, elapsed = await at_once([f"/profiles/{i}" for i in range(5)], within=6)
    statuses = [answer.status for answer in answers]
    assert statuses == [200] * 5, f"5 GET /profiles/{{i}} at once → {statuses}, expected 200s"
    assert elapsed < 2.5, (
        f"5 GET /profiles/{{i}} at once took {elapsed:.2f} s, expected < 2.5 s "
        "(one wait is 1.0 s, five in a row 5 s): something blocks the event loop while waiting"
    )


@pytest.mark.task(1)
@pytest.mark.asyncio
async def test_many_profile_requests_at_once_do_not_queue_for_threads(settings_env):
    answers, elapsed = await at_once([f"/profiles/{i}" for i in range(81)], within=7)
    wrong = sorted({answer.status for answer in answers} - {200})
    assert not wrong, f"81 GET /profiles/{{i}} at once → some answered {wrong}, expected 200s"
    assert elapsed < 2.2, (
        f"81 GET /profiles/{{i}} at once took {elapsed:.2f} s, expected < 2.2 s (one wait is "
        "1.0 s; in FastAPI's 40 worker threads they wait in 3 rounds, 3 s): fetch_profile and "
        "the endpoint must be `async def` and await the wait, not block a thread with it"
    )


# --- Task 2: fan-out to upstreams --------------------------------------------------------------


@pytest.mark.task(2)
def test_dashboard_returns_each_upstream_answer_under_its_name(client, upstream):
    response = client.get("/dashboard")
    assert response.status_code == 200, (
        f"GET /dashboard → {response.status_code} {body(response)}, expected 200"
    )
    assert body(response) == PAYLOADS, f"GET /dashboard → {body(response)}, expected {PAYLOADS}"
    assert sorted(names(upstream)) == ["calendar", "news", "weather"], (
        f"GET /dashboard made the upstream calls {names(upstream)}, expected one each to "
        "/weather, /news and /calendar"
    )


@pytest.mark.task(2)
def test_dashboard_takes_about_the_slowest_upstream_not_the_sum(settings_env, upstream):
    settings_env.setenv("GATEWAY_UPSTREAM_TIMEOUT", "5")  # longer than any of the delays
    with TestClient(kata.app) as client:
        warm_up(client, upstream, "/dashboard")
        upstream.delays.update(weather=0.4, news=0.7, calendar=1.0)
        response, elapsed = timed(client, "/dashboard")
    assert response.status_code == 200, (
        f"GET /dashboard with upstreams taking 0.4, 0.7 and 1.0 s → {response.status_code} "
        f"{body(response)}, expected 200"
    )
    assert elapsed < 1.55, (
        f"GET /dashboard took {elapsed:.2f} s with upstreams taking 0.4, 0.7 and 1.0 s, "
        "expected < 1.55 s (the slowest is 1.0 s, one after another 2.1 s): "
        "start all three calls, then wait for them together"
    )


# --- Task 3: blocking work off the event loop --------------------------------------------------


@pytest.mark.task(3)
@pytest.mark.asyncio
async def test_health_answers_while_a_report_is_rendering(settings_env):
    transport = httpx.ASGITransport(app=kata.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/health")).status_code == 200, "GET /health → not 200"
        report = asyncio.ensure_future(client.get("/reports/7"))
        await asyncio.sleep(0.3)  # by now render_report is running: it takes 1.0 s
        health, health_took = await asyncio.wait_for(timed_async(client, "/health"), 5)
        response = await asyncio.wait_for(report, 5)
    expected = {"report_id": 7, "content": "report 7"}
    assert response.status_code == 200, f"GET /reports/7 → {response.status_code}, expected 200"
    assert body(response) == expected, f"GET /reports/7 → {body(response)}, expected {expected}"
    assert health.status_code == 200, f"GET /health → {health.status_code}, expected 200"
    assert health_took < 0.4, (
        f"GET /health, sent while GET /reports/7 was rendering, took {health_took:.2f} s, "
        "expected < 0.4 s (rendering takes 1.0 s): the blocking render_report call is holding "
        "the event loop"
    )


async def timed_async(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.get(url)
    return response, time.perf_counter() - started


# --- Task 4: upstream trouble becomes a gateway error ------------------------------------------


def cut_off(client: TestClient, url: str, what: str, path: str, **kwargs: Any) -> None:
    """GET `url` while the upstream at `path` is too slow: a 504 naming it, within 1.5 s."""
    response, elapsed = timed(client, url, **kwargs)
    assert response.status_code == 504, (
        f"GET {url} with {what} → {response.status_code} {body(response)} after "
        f"{elapsed:.2f} s, expected 504 once the deadline (GATEWAY_UPSTREAM_TIMEOUT, 0.5 s) ran out"
    )
    assert path in detail(response), (
        f"GET {url} with {what} → {body(response)}, expected a detail naming {path}"
    )
    assert elapsed < 1.5, (
        f"GET {url} with {what} took {elapsed:.2f} s to answer 504, expected < 1.5 s: "
        "the deadline is 0.5 s by default, for the whole call"
    )


@pytest.mark.task(4)
def test_slow_upstreams_are_cut_off_with_504_at_the_deadline(client, upstream):
    warm_up(client, upstream, "/dashboard")
    upstream.delays["calendar"] = 0.1
    response = client.get("/dashboard")
    assert response.status_code == 200, (
        f"GET /dashboard with /calendar answering in 0.1 s → {response.status_code} "
        f"{body(response)}, expected 200: the deadline is 0.5 s by default"
    )
    upstream.delays["news"] = 3
    cut_off(client, "/dashboard", "/news silent for 3 s", "/news")
    upstream.delays.clear()
    upstream.trickles["news"] = 3  # headers at once, then a few bytes of the body every 0.15 s
    # httpx's timeouts bound each read, so a trickling upstream never trips them.
    cut_off(client, "/dashboard", "/news sending its body over 3 s", "/news")
    upstream.trickles.clear()
    upstream.delays["quotes/BBB"] = 3
    params = {"symbols": ["AAA", "BBB"]}
    cut_off(client, "/prices", "/quotes/BBB silent for 3 s", "/quotes/BBB", params=params)


@pytest.mark.task(4)
def test_the_deadline_comes_from_the_settings(settings_env, upstream):
    settings_env.setenv("GATEWAY_UPSTREAM_TIMEOUT", "3")
    upstream.delays["news"] = 1.6
    with TestClient(kata.app) as client:
        response = client.get("/dashboard")
    assert response.status_code == 200, (
        f"GET /dashboard with GATEWAY_UPSTREAM_TIMEOUT=3 and /news answering in 1.6 s → "
        f"{response.status_code} {body(response)}, expected 200: read the deadline from "
        "settings.upstream_timeout, not from a number of your own"
    )


@pytest.mark.task(4)
def test_an_upstream_error_status_becomes_502(client, upstream):
    for url, path, status in [
        ("/dashboard", "/weather", 404),
        ("/dashboard", "/weather", 503),
        ("/prices?symbols=AAA&symbols=BBB", "/quotes/BBB", 503),
    ]:
        upstream.statuses.clear()
        upstream.statuses[path.strip("/")] = status
        response = client.get(url)
        assert response.status_code == 502, (
            f"GET {url} with {path} answering {status} → {response.status_code} "
            f"{body(response)}, expected 502: every status of 400 or more is an upstream error"
        )
        assert path in detail(response), (
            f"GET {url} with {path} answering {status} → {body(response)}, "
            f"expected a detail naming {path}"
        )


@pytest.mark.task(4)
def test_an_unreachable_upstream_becomes_502(settings_env):
    settings_env.setenv("GATEWAY_UPSTREAM_SOCKET", "nobody-listens.sock")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        response = client.get("/dashboard")
    assert response.status_code == 502, (
        f"GET /dashboard with no upstream listening → {response.status_code} {body(response)}, "
        "expected 502: an upstream that cannot be reached (httpx.RequestError) is a bad gateway"
    )
    assert any(path in detail(response) for path in ("/weather", "/news", "/calendar")), (
        f"GET /dashboard with no upstream listening → {body(response)}, "
        "expected a detail naming the upstream path"
    )


# --- Task 5: bounded concurrency ---------------------------------------------------------------


@pytest.mark.task(5)
def test_prices_come_in_the_order_asked_and_a_free_slot_is_used_at_once(settings_env, upstream):
    settings_env.setenv("GATEWAY_UPSTREAM_TIMEOUT", "5")  # this test is not about the deadline
    with TestClient(kata.app) as client:
        upstream.delays.update({"quotes": 0.1, "quotes/AAA": 1.5})
        response = client.get("/prices", params={"symbols": SYMBOLS})
        assert response.status_code == 200, (
            f"GET /prices?symbols=AAA…GGG → {response.status_code} {body(response)}, expected 200"
        )
        slow = next(call for call in upstream.calls if call.name == "quotes/AAA")
        meanwhile = [c.name for c in upstream.calls if c.started < (slow.ended or float("inf"))]
        assert len(meanwhile) > 3, (
            f"GET /prices with /quotes/AAA taking 1.5 s and the others 0.1 s: only {meanwhile} "
            "started before /quotes/AAA finished, expected the others to go on in the two free "
            "slots: a new call starts as soon as one ends (a semaphore), not batch after batch"
        )
        # Later symbols answer first, so results in the order they arrive would be reversed.
        forget(upstream)
        upstream.delays.clear()
        for i, symbol in enumerate(SYMBOLS):
            upstream.delays[f"quotes/{symbol}"] = 0.05 * (len(SYMBOLS) - i)
        response = client.get("/prices", params={"symbols": SYMBOLS})
        missing = client.get("/prices")
    expected = [quote(s) for s in SYMBOLS]
    assert response.status_code == 200, (
        f"GET /prices?symbols=AAA…GGG → {response.status_code} {body(response)}, expected 200"
    )
    assert body(response) == expected, f"GET /prices?symbols=AAA…GGG → {body(response)}, expected {expected}"  # fmt: skip
    assert sorted(names(upstream)) == [f"quotes/{s}" for s in SYMBOLS], (
        f"GET /prices?symbols=AAA…GGG made the calls {names(upstream)}, expected one per symbol"
    )
    assert missing.status_code == 422, f"GET /prices without symbols → {missing.status_code}, expected 422"  # fmt: skip


@pytest.mark.task(5)
def test_prices_keep_at_most_three_upstream_calls_in_flight(settings_env, upstream):
    # Each call takes 0.4 s, well within a 0.9 s deadline; the last ones wait 0.8 s for a slot
    # first, which must not count against it.
    settings_env.setenv("GATEWAY_UPSTREAM_TIMEOUT", "0.9")
    upstream.delays["quotes"] = 0.4
    with TestClient(kata.app) as client:
        response = client.get("/prices", params={"symbols": SYMBOLS})
    seen = upstream.max_in_flight
    assert response.status_code == 200, (
        f"GET /prices with 7 symbols, each answering in 0.4 s → {response.status_code} "
        f"{body(response)}, expected 200: a call's deadline (0.9 s here) starts when it gets "
        "its slot, not while it waits for one"
    )
    assert seen <= 3, (
        f"GET /prices with 7 symbols had {seen} upstream calls in flight at once, "
        "expected at most 3 (GATEWAY_MAX_UPSTREAM_CONCURRENCY)"
    )
    assert seen == 3, (
        f"GET /prices with 7 symbols had at most {seen} upstream call(s) in flight at once, "
        "expected 3: the limit is a ceiling to use, not one call at a time"
    )


@pytest.mark.task(5)
def test_the_limit_comes_from_the_settings(settings_env, upstream):
    settings_env.setenv("GATEWAY_MAX_UPSTREAM_CONCURRENCY", "2")
    upstream.delays["quotes"] = 0.3
    with TestClient(kata.app) as client:
        response = client.get("/prices", params={"symbols": SYMBOLS[:5]})
    seen = upstream.max_in_flight
    assert response.status_code == 200 and seen == 2, (
        f"GET /prices with 5 symbols and GATEWAY_MAX_UPSTREAM_CONCURRENCY=2 → "
        f"{response.status_code}, with {seen} call(s) in flight at most, expected 200 and 2: "
        "read the limit from settings.max_upstream_concurrency"
    )


# --- Task 6: one client for the app's whole life -----------------------------------------------


@pytest.mark.task(6)
def test_every_request_shares_one_pool_of_connections(client, upstream):
    statuses = [client.get("/dashboard").status_code for _ in range(2)]
    statuses.append(client.get("/prices", params={"symbols": ["AAA", "BBB"]}).status_code)
    assert statuses == [200, 200, 200], (
        f"GET /dashboard twice then GET /prices → {statuses}, expected 200s"
    )
    hosts = sorted({call.host for call in upstream.calls})
    assert hosts == [UPSTREAM_HOST], (
        f"the upstream calls went to host(s) {hosts}, expected {UPSTREAM_HOST!r}: "
        "the client's base_url is settings.upstream_url"
    )
    assert upstream.opened <= 3, (
        f"GET /dashboard twice then GET /prices (8 upstream calls, at most 3 at once) opened "
        f"{upstream.opened} connections, expected at most 3: one client keeps its connections "
        "open and reuses them; a client per request opens new ones every time"
    )


@pytest.mark.task(6)
def test_the_client_opens_at_startup_and_closes_at_shutdown(settings_env, upstream):
    for run in ("first", "second"):
        with TestClient(kata.app) as client:
            response = client.get("/dashboard")
            assert response.status_code == 200, (
                f"GET /dashboard after the {run} startup → {response.status_code} "
                f"{body(response)}, expected 200: open a new client at each startup"
            )
            assert open_connections_after(upstream, 0.2) > 0, (
                f"after GET /dashboard (the {run} startup) the app holds no connection to the "
                "upstreams, expected its client to keep them open for the next request: "
                "is a new client made (and closed) for every request?"
            )
        still_open = open_connections_after(upstream, 2.0)
        assert still_open == 0, (
            f"{still_open} connection(s) to the upstreams still open 2 s after the {run} "
            "shutdown, expected 0: close the client when the lifespan ends"
        )
