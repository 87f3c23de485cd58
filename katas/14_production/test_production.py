"""Kata 14 · Production — what the catalog service must do. Run: nox -s production"""

import hashlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

# The catalog every test serves, written to a file in the order below (not id order).
CATALOG = [
    {
        "id": 3,
        "name": "Espresso machine",
        "price": 249.0,
        "description": "A dual-boiler espresso machine with a PID controller, a rotary pump "
        "and a steam wand that textures milk for two cups at once. The drip tray slides out from "
        "the front, and the water tank fills from the top without moving the machine.",
    },
    {
        "id": 1,
        "name": "Burr grinder",
        "price": 89.5,
        "description": "Conical steel burrs, forty grind settings, from espresso to cold brew, "
        "and a timer that doses the same weight of beans every morning.",
    },
    {
        "id": 5,
        "name": "Pour-over kettle",
        "price": 54.25,
        "description": "A gooseneck kettle that holds its temperature to the degree for an hour, "
        "with a counterweighted handle and a spout that pours a thin, steady stream.",
    },
    {
        "id": 2,
        "name": "Scale",
        "price": 32.0,
        "description": "Weighs to a tenth of a gram and times the brew from the first drop; "
        "it charges over USB and runs for a month of mornings on one charge.",
    },
    {
        "id": 4,
        "name": "Milk jug",
        "price": 18.75,
        "description": "A 600 ml stainless steel jug with a sharp spout for latte art, "
        "marked inside at 150, 300 and 450 ml so the milk is measured as it is poured.",
    },
]
IN_ID_ORDER = sorted(CATALOG, key=lambda product: product["id"])
SMALL = "/products/1"  # its JSON is under 1000 bytes; the whole list is over
PRODUCT_PATHS = ["/products", "/products/2"]
CACHE_CONTROL = "public, max-age=60"
START_TIMEOUT = 60.0  # seconds a real server may take to start on a loaded machine


def compact(data):
    """JSON as FastAPI writes it: no spaces."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def sized_products():
    """Products whose JSON is 990, 991, … 1010 bytes long: both sides of a 1000-byte bound."""
    products = []
    for size in range(990, 1011):
        product = {"id": size - 889, "name": f"Sample {size}", "price": 1.5, "description": ""}
        filler = "A sample of an exact size. " * 40
        product["description"] = filler[: size - len(compact(product))]
        assert len(compact(product)) == size
        products.append(product)
    return products


def weak_etag(body):
    return f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'


def body_of(response):
    """The JSON body of a response, or its text when it is not JSON (a crash's 500, say)."""
    try:
        return response.json()
    except ValueError:
        return response.text


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """Every test: the catalog in a file of its own, and a limit far above what it sends."""
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    for name in list(os.environ):
        if name.startswith("PROD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROD_CATALOG_FILE", str(catalog))
    monkeypatch.setenv("PROD_RATE_LIMIT", "1000")
    return catalog


@pytest.fixture
def client():
    # A crash comes back as a 500 response, as a real client would see it.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def refusal():
    """Why the app refused to start with the test's settings, or None when it started."""
    try:
        with TestClient(kata.app) as client:
            client.get("/health/live")
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


# Task 1 — settings from the environment


@pytest.mark.task(1)
def test_the_catalog_file_of_the_settings_is_served(client):
    response = client.get("/products")
    assert response.status_code == 200 and response.json() == IN_ID_ORDER, (
        f"GET /products → {response.status_code} {body_of(response)}, expected 200 with the "
        "products of PROD_CATALOG_FILE in id order"
    )
    response = client.get("/products/4")
    assert response.status_code == 200 and response.json() == IN_ID_ORDER[3], (
        f"GET /products/4 → {response.status_code} {body_of(response)}, expected 200 {IN_ID_ORDER[3]}"
    )
    response = client.get("/products/9")
    assert response.status_code == 404 and response.json() == {"detail": "Product not found"}, (
        f"GET /products/9 → {response.status_code} {body_of(response)}, "
        "expected 404 {'detail': 'Product not found'}"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("unprefixed", [False, True], ids=["unset", "CATALOG_FILE-without-prefix"])
def test_without_a_catalog_file_the_app_refuses_to_start(monkeypatch, environment, unprefixed):
    monkeypatch.delenv("PROD_CATALOG_FILE")
    if unprefixed:
        monkeypatch.setenv("CATALOG_FILE", str(environment))
    assert refusal() is not None, (
        "the app started without PROD_CATALOG_FILE"
        + (" (only CATALOG_FILE was set)" if unprefixed else "")
        + ", expected its lifespan to fail: the setting is required and read with the prefix PROD_"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROD_RATE_LIMIT", "abc"),
        ("PROD_RATE_LIMIT", "0"),
        ("PROD_RATE_WINDOW_SECONDS", "0"),
        ("PROD_WARMUP_SECONDS", "-0.5"),
        ("PROD_WORKERS", "0"),
        ("PROD_PORT", "0"),
        ("PROD_PORT", "65536"),
    ],
)
def test_an_invalid_setting_stops_the_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert refusal() is not None, (
        f"the app started with {name}={value}, expected its lifespan to fail on the invalid setting "
        "(see the README's table of settings for each one's type and bounds)"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROD_RATE_LIMIT", "1"),
        ("PROD_RATE_WINDOW_SECONDS", "0.5"),
        ("PROD_WARMUP_SECONDS", "0"),
        ("PROD_WORKERS", "1"),
        ("PROD_PORT", "1"),
        ("PROD_PORT", "65535"),
    ],
)
def test_a_setting_on_its_bound_is_accepted(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        response = client.get("/products")
    assert response.status_code == 200 and response.json() == IN_ID_ORDER, (
        f"with {name}={value} GET /products → {response.status_code} {body_of(response)}, "
        "expected the app to start and serve the catalog: the value is on the bound, and allowed"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("broken", ["missing", "no-price"])
def test_a_catalog_that_cannot_be_loaded_stops_the_start(environment, broken):
    if broken == "missing":
        environment.unlink()
    else:
        environment.write_text(json.dumps([{"id": 1, "name": "Grinder", "description": ""}]))
    assert refusal() is not None, (
        f"the app started with a catalog file that is {broken.replace('-', ' ')}, expected its "
        "lifespan to load the catalog at startup and fail"
    )


# Task 2 — liveness and readiness


@pytest.mark.task(2)
def test_liveness_answers_with_or_without_a_lifespan():
    before = TestClient(kata.app).get("/health/live")  # no `with`: the lifespan has not run
    assert before.status_code == 200 and before.json() == {"status": "alive"}, (
        f"GET /health/live before startup → {before.status_code} {body_of(before)}, "
        "expected 200 {'status': 'alive'}: liveness checks nothing but the process"
    )
    with TestClient(kata.app) as client:
        after = client.get("/health/live")
    assert after.status_code == 200 and after.json() == {"status": "alive"}, (
        f"GET /health/live → {after.status_code} {body_of(after)}, expected 200 {{'status': 'alive'}}"
    )


@pytest.mark.task(2)
def test_readiness_is_503_until_the_lifespan_has_run():
    before = TestClient(kata.app, raise_server_exceptions=False).get("/health/ready")
    assert before.status_code == 503 and before.json() == {"status": "starting"}, (
        f"GET /health/ready before the lifespan ran → {before.status_code} {body_of(before)}, "
        "expected 503 {'status': 'starting'}"
    )
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        after = client.get("/health/ready")
    assert after.status_code == 200 and after.json() == {"status": "ready"}, (
        f"GET /health/ready after startup (no warm-up) → {after.status_code} {body_of(after)}, "
        "expected 200 {'status': 'ready'} at once"
    )


@pytest.mark.task(2)
def test_readiness_waits_for_the_warm_up_while_liveness_answers(monkeypatch):
    warm_up = 4.0
    monkeypatch.setenv("PROD_WARMUP_SECONDS", str(warm_up))
    began = time.monotonic()
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        entered = time.monotonic() - began
        first = client.get("/health/ready")
        live = client.get("/health/live")
        assert entered < warm_up / 2, (
            f"with PROD_WARMUP_SECONDS={warm_up:g} the startup took {entered:.1f} s, expected it "
            "to finish at once and run the warm-up in the background (a server opens its port "
            "only once startup is done)"
        )
        assert first.status_code == 503 and first.json() == {"status": "starting"}, (
            f"GET /health/ready during a {warm_up:g} s warm-up → {first.status_code} "
            f"{body_of(first)}, expected 503 {{'status': 'starting'}}"
        )
        assert live.status_code == 200, (
            f"GET /health/live during the warm-up → {live.status_code}, expected 200"
        )
        deadline = began + warm_up + 30
        while (ready := client.get("/health/ready")).status_code != 200:
            assert time.monotonic() < deadline, (
                f"GET /health/ready → {ready.status_code} {body_of(ready)} still "
                f"{time.monotonic() - began:.0f} s after a {warm_up:g} s warm-up began, expected 200"
            )
            time.sleep(0.1)
        waited = time.monotonic() - began
    assert ready.json() == {"status": "ready"}, (
        f"GET /health/ready after the warm-up → {body_of(ready)}, expected {{'status': 'ready'}}"
    )
    assert waited >= warm_up - 0.05, (
        f"GET /health/ready answered 200 after {waited:.1f} s, expected not before the "
        f"{warm_up:g} s of PROD_WARMUP_SECONDS"
    )


# Task 3 — graceful shutdown


@pytest.mark.task(3)
def test_stats_count_every_request_of_this_process(client):
    for path in ("/health/live", "/products", "/products/9"):
        client.get(path)
    first, second = client.get("/stats"), client.get("/stats")
    assert first.status_code == 200, f"GET /stats → {first.status_code}, expected 200"
    got = body_of(first)
    pid = got.get("pid") if isinstance(got, dict) else None
    assert isinstance(pid, int) and got == {"pid": pid, "requests": 4, "in_flight": 1}, (
        f"GET /stats after 3 requests → {got}, expected {{'pid': <this process>, "
        "'requests': 4, 'in_flight': 1}: every request counts, this one included"
    )
    assert body_of(second) == {"pid": pid, "requests": 5, "in_flight": 1}, (
        f"a second GET /stats → {body_of(second)}, expected {{'pid': {pid}, 'requests': 5, "
        "'in_flight': 1}"
    )


@pytest.mark.task(3)
def test_in_flight_counts_the_requests_being_answered():
    # Without the lifespan the product routes fail with a 500: still counted, then no longer in flight.
    broken = TestClient(kata.app, raise_server_exceptions=False).get("/products")
    assert broken.status_code == 500, (
        f"GET /products before startup → {broken.status_code}, expected 500 (no catalog loaded)"
    )
    with TestClient(kata.app) as client, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(client.get, "/slow", params={"seconds": 3})
        seen = []
        while not slow.done() and len(seen) < 200:
            seen.append(body_of(client.get("/stats")).get("in_flight"))
            if seen[-1] == 2:
                break
            time.sleep(0.05)
        assert 2 in seen, (
            f"GET /stats during a 3 s GET /slow → in_flight {seen[-5:]}, expected 2 "
            "(the slow request and this one)"
        )
        assert slow.result().status_code == 200, "GET /slow?seconds=3 did not answer 200"
        after = body_of(client.get("/stats"))
    assert isinstance(after, dict) and after.get("in_flight") == 1, (
        f"GET /stats once the slow request and a 500 were answered → {after}, expected in_flight 1: "
        "a request leaves in_flight when it is answered, even when it failed"
    )


@pytest.mark.task(3)
def test_shutdown_writes_the_stats_file_after_the_last_request(tmp_path, monkeypatch):
    stats_file = tmp_path / "stats.json"
    monkeypatch.setenv("PROD_STATS_FILE", str(stats_file))
    with TestClient(kata.app) as client:
        client.get("/products")
        client.get("/health/ready")
        pid = body_of(client.get("/stats")).get("pid")
        assert not stats_file.exists(), (
            "PROD_STATS_FILE was written while the app was serving, expected it at shutdown only"
        )
    assert stats_file.exists(), (
        "after shutdown there is no PROD_STATS_FILE, expected the lifespan's cleanup to write it"
    )
    written = json.loads(stats_file.read_text())
    assert written == {"pid": pid, "requests": 3, "in_flight": 0}, (
        f"PROD_STATS_FILE after 3 requests and shutdown holds {written}, "
        f"expected {{'pid': {pid}, 'requests': 3, 'in_flight': 0}}"
    )


@pytest.mark.task(3)
def test_shutdown_stops_a_warm_up_that_is_still_running(tmp_path, monkeypatch):
    stats_file = tmp_path / "stats.json"
    monkeypatch.setenv("PROD_STATS_FILE", str(stats_file))
    monkeypatch.setenv("PROD_WARMUP_SECONDS", "16")
    with TestClient(kata.app) as client:
        client.get("/stats")
        began = time.monotonic()
    took = time.monotonic() - began
    assert took < 8, (
        f"shutting down during a 16 s warm-up took {took:.0f} s, expected the cleanup to cancel "
        "the warm-up, not wait for it"
    )
    assert stats_file.exists(), "after a shutdown during the warm-up there is no PROD_STATS_FILE"


@pytest.mark.task(3)
def test_without_a_stats_file_shutdown_writes_nothing(tmp_path, monkeypatch, environment):
    monkeypatch.chdir(tmp_path)
    try:
        with TestClient(kata.app) as client:
            stats = client.get("/stats")
    except Exception as error:
        pytest.fail(
            f"shutting down without PROD_STATS_FILE raised {error!r}, expected a clean stop"
        )
    assert stats.status_code == 200, f"GET /stats → {stats.status_code}, expected 200"
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == [environment.name], (
        f"without PROD_STATS_FILE the working folder holds {files} after shutdown, "
        f"expected only {environment.name}: no stats file is written"
    )


# The real-server tests: a Uvicorn process on a free loopback port, stopped however the test ends.
# White-box: the process is started from inside the sandbox (its network namespace has its own
# loopback, out of reach of the trusted tests), so these results are self-reported.


def output(server):
    """The last of what a server process printed."""
    text = server.log.read_text(errors="replace") if server.log.exists() else ""
    return text[-1500:] or "(nothing)"


def new_client():
    """A client that opens a new connection for every request: with keep-alive every request
    would go to the same worker. Building one costs tens of milliseconds of CPU, so each
    server gets one and polls with it."""
    return httpx.Client(
        timeout=30,
        headers={"Connection": "close"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def fetch(server, path, **params):
    """GET on a new connection."""
    return server.client.get(server.url + path, params=params)


def wait_until_up(server, answered):
    """Poll GET /health/live until the server answers at all; the answer goes into `answered`."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"the server exited with code {server.process.returncode} before it answered; "
                f"it printed:\n{output(server)}"
            )
        try:
            response = fetch(server, "/health/live")
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        answered.append(response)
        return
    pytest.fail(
        f"the server did not answer within {START_TIMEOUT:g} s; it printed:\n{output(server)}"
    )


def stop(server):
    """SIGTERM, then wait for the process to exit by itself."""
    server.process.send_signal(signal.SIGTERM)
    exits_by_itself(server)


def exits_by_itself(server, within=30.0):
    try:
        server.process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the server did not exit within {within:g} s of SIGTERM; it printed:\n{output(server)}"
        )


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture
def launch(tmp_path, environment):
    """Start `command` with the catalog and `env`; every process it starts is killed at the end."""
    started = []

    def start(command, host, port, **env):
        log = tmp_path / f"server-{len(started)}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PROD_")}
        settings = {"PROD_CATALOG_FILE": str(environment), "PYTHONUNBUFFERED": "1", **env}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                cwd=tmp_path,
                env={**base, **settings},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: workers included
            )
        started.append(process)
        return SimpleNamespace(process=process, url=f"http://{host}:{port}", log=log, client=client)

    with new_client() as client:
        try:
            yield start
        finally:
            for process in started:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)


def uvicorn_command(port):
    folder = Path(kata.__file__).parent
    return [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(folder),
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip


def parent_of(pid):
    """The parent process id of `pid` (Linux), or None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(") ", 1)[1].split()[1])


def sigterm_during_a_slow_request(server, seconds, answered, before=lambda: None):
    """Start GET /slow?seconds=…, send SIGTERM once /stats shows it in flight (after calling
    `before`), expect the slow request's 200, and return the pid that answered /stats."""
    with ThreadPoolExecutor(1) as pool, new_client() as other:
        slow = pool.submit(other.get, server.url + "/slow", params={"seconds": seconds})
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            stats = fetch(server, "/stats")
            answered.append(stats)
            in_flight = body_of(stats).get("in_flight") if stats.status_code == 200 else None
            if in_flight == 2 or slow.done() or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert in_flight == 2, (
            f"GET /stats during GET /slow?seconds={seconds} → {stats.status_code} "
            f"{body_of(stats)}, expected in_flight 2 (the slow request and this one)"
        )
        before()
        server.process.send_signal(signal.SIGTERM)
        try:
            response = slow.result(timeout=30)
        except httpx.HTTPError as error:
            pytest.fail(
                f"GET /slow?seconds={seconds}, in flight when SIGTERM arrived → {error!r}, "
                f"expected it to finish; the server printed:\n{output(server)}"
            )
    answered.append(response)
    assert response.status_code == 200 and response.json() == {"slept": float(seconds)}, (
        f"GET /slow?seconds={seconds}, in flight when SIGTERM arrived → {response.status_code} "
        f"{body_of(response)}, expected 200 {{'slept': {float(seconds)}}}"
    )
    return body_of(stats)["pid"]


@pytest.mark.task(3)
@pytest.mark.white_box  # a real Uvicorn process, started inside the sandbox
def test_sigterm_lets_the_request_in_flight_finish_then_cleans_up(launch, tmp_path):
    stats_file = tmp_path / "stats.json"
    port = free_port()
    server = launch(uvicorn_command(port), "127.0.0.1", port, PROD_STATS_FILE=str(stats_file))
    answered = []
    wait_until_up(server, answered)

    def not_written_yet():
        assert not stats_file.exists(), "PROD_STATS_FILE exists before the server was stopped"

    pid = sigterm_during_a_slow_request(server, 2, answered, before=not_written_yet)
    exits_by_itself(server)
    assert stats_file.exists(), (
        f"after SIGTERM the server exited without writing PROD_STATS_FILE; it printed:\n{output(server)}"
    )
    written = json.loads(stats_file.read_text())
    expected = {"pid": pid, "requests": len(answered), "in_flight": 0}
    assert written == expected, (
        f"PROD_STATS_FILE after SIGTERM holds {written}, expected {expected}: the cleanup runs "
        "once the request in flight has been answered, not when the signal arrives"
    )


# Task 4 — workers


@pytest.mark.task(4)
@pytest.mark.white_box  # `python run.py` with two worker processes, started inside the sandbox
def test_two_workers_answer_with_counts_of_their_own(launch):
    port = free_port()
    run = [sys.executable, str(Path(kata.__file__).parent / "run.py")]
    server = launch(run, "127.0.0.1", port, PROD_PORT=str(port), PROD_WORKERS="2")
    answered = []
    wait_until_up(server, answered)
    counts = {}  # pid → the `requests` it reported, in order
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and (len(counts) < 2 or min(map(len, counts.values())) < 3):
        response = fetch(server, "/stats")
        answered.append(response)
        stats = body_of(response)
        assert response.status_code == 200 and isinstance(stats, dict), (
            f"GET /stats → {response.status_code} {stats}, expected 200"
        )
        counts.setdefault(stats.get("pid"), []).append(stats.get("requests"))
    assert len(counts) >= 2, (
        f"{len(answered)} requests to `python run.py` with PROD_WORKERS=2 were all answered by "
        f"pid {list(counts)}, expected two worker processes; it printed:\n{output(server)}"
    )
    for pid, seen in counts.items():
        assert pid != server.process.pid, (
            f"pid {pid} answered, which is `python run.py` itself: with two workers it only supervises"
        )
        assert parent_of(pid) in (server.process.pid, None), (
            f"pid {pid} answered, a process run.py did not start (its parent is {parent_of(pid)})"
        )
        assert seen == sorted(set(seen)) and max(seen) < len(answered), (
            f"worker {pid} reported requests {seen} out of {len(answered)} sent, expected its own "
            "count, growing, and below the total: the other worker's requests are not in it"
        )
    stop(server)


@pytest.mark.task(4)
@pytest.mark.white_box  # `python run.py`, a real server process started inside the sandbox
def test_run_py_serves_on_the_configured_address_in_one_process(launch):
    linux = sys.platform == "linux"  # all of 127/8 is loopback there
    host = "127.0.0.2" if linux else "127.0.0.1"
    port = free_port(host)
    run = [sys.executable, str(Path(kata.__file__).parent / "run.py")]
    server = launch(run, host, port, PROD_HOST=host, PROD_PORT=str(port))
    wait_until_up(server, [])
    stats = body_of(fetch(server, "/stats"))
    assert isinstance(stats, dict) and stats.get("pid") == server.process.pid, (
        f"GET /stats → {stats} from `python run.py` (pid {server.process.pid}) with one worker, "
        "expected the answer from that process itself: one worker needs no supervisor"
    )
    if linux:
        try:
            elsewhere = server.client.get(f"http://127.0.0.1:{port}/health/live")
        except httpx.TransportError:
            elsewhere = None
        assert elsewhere is None, (
            f"with PROD_HOST={host}, 127.0.0.1:{port} answered {elsewhere.status_code}, expected "
            "the connection refused: run.py listens on PROD_HOST only, not on every address"
        )
    # Uvicorn's default: on SIGTERM it waits for the requests in flight, however long they take.
    sigterm_during_a_slow_request(server, 3, [])
    exits_by_itself(server)


# Task 5 — compression


@pytest.mark.task(5)
def test_a_large_response_is_gzipped_for_a_client_that_accepts_it(client):
    plain = client.get("/products", headers={"Accept-Encoding": "identity"})
    packed = client.get("/products", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.status_code == 200 and packed.headers.get("content-encoding") == "gzip", (
        f"GET /products ({len(plain.content)} bytes) with Accept-Encoding: gzip → "
        f"{packed.status_code}, Content-Encoding {packed.headers.get('content-encoding')!r}, "
        "expected 200 'gzip'"
    )
    assert packed.headers.get("vary") == "Accept-Encoding", (
        f"a gzipped GET /products has Vary {packed.headers.get('vary')!r}, expected "
        "'Accept-Encoding': a cache must keep the two encodings apart"
    )
    sent = int(packed.headers.get("content-length", len(plain.content)))
    assert packed.json() == IN_ID_ORDER and sent < len(plain.content), (
        f"the gzipped GET /products sent {sent} bytes for {len(plain.content)}, expected "
        "fewer bytes that unpack to the same products"
    )


@pytest.mark.task(5)
@pytest.mark.parametrize("accept", ["identity", "br", ""], ids=["identity", "br", "empty"])
def test_a_client_that_does_not_accept_gzip_gets_it_plain(client, accept):
    response = client.get("/products", headers={"Accept-Encoding": accept})
    assert response.status_code == 200 and "content-encoding" not in response.headers, (
        f"GET /products with Accept-Encoding {accept!r} → {response.status_code}, Content-Encoding "
        f"{response.headers.get('content-encoding')!r}, expected 200 and no Content-Encoding"
    )
    assert response.json() == IN_ID_ORDER, (
        f"GET /products → {body_of(response)}, expected the catalog"
    )


@pytest.mark.task(5)
def test_responses_from_1000_bytes_on_are_compressed_smaller_ones_are_not(environment):
    products = sized_products()
    environment.write_text(json.dumps([*CATALOG, *products]))
    wrong = []
    sizes = []
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        for product in [IN_ID_ORDER[0], *products]:
            path = f"/products/{product['id']}"
            plain = client.get(path, headers={"Accept-Encoding": "identity"})
            packed = client.get(path, headers={"Accept-Encoding": "gzip"})
            if plain.status_code != 200 or packed.status_code != 200:
                pytest.fail(f"GET {path} → {plain.status_code}, expected 200")
            size = len(plain.content)
            sizes.append(size)
            encoding = packed.headers.get("content-encoding")
            vary = packed.headers.get("vary")
            if size >= 1000 and (encoding, vary) != ("gzip", "Accept-Encoding"):
                wrong.append(f"{size} bytes → Content-Encoding {encoding!r}, Vary {vary!r}")
            if size < 1000 and encoding is not None:
                wrong.append(f"{size} bytes → Content-Encoding {encoding!r}")
    sized = sorted(sizes[1:])
    assert sized[0] < 1000 <= sized[-1] and sized == list(range(sized[0], sized[0] + 21)), (
        f"the sized products came back as {sized[0]} to {sized[-1]} bytes, expected one byte "
        "apart from about 990 to 1010: answer compact JSON, as FastAPI writes it"
    )
    assert not wrong, (
        "with Accept-Encoding: gzip, expected 'gzip' and Vary 'Accept-Encoding' from 1000 bytes on "
        "and no Content-Encoding below; got " + "; ".join(wrong[:4])
    )


# Task 6 — conditional requests


@pytest.mark.task(6)
@pytest.mark.parametrize("path", PRODUCT_PATHS)
def test_a_product_response_carries_a_weak_etag_of_its_body(client, path):
    first = client.get(path, headers={"Accept-Encoding": "identity"})
    again = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200, f"GET {path} → {first.status_code}, expected 200"
    expected = weak_etag(first.content)
    assert first.headers.get("etag") == expected, (
        f"GET {path} → ETag {first.headers.get('etag')!r}, expected {expected!r}: W/ and the "
        "first 16 hex digits of the body's SHA-256, in double quotes"
    )
    assert first.headers.get("cache-control") == CACHE_CONTROL, (
        f"GET {path} → Cache-Control {first.headers.get('cache-control')!r}, expected {CACHE_CONTROL!r}"
    )
    assert again.headers.get("etag") == expected, (
        f"GET {path} again, gzipped → ETag {again.headers.get('etag')!r}, expected the same "
        f"{expected!r}: one weak tag for both encodings of the same body"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("path", PRODUCT_PATHS)
@pytest.mark.parametrize("form", ["the-tag", "strong-form", "star", "in-a-list"])
def test_if_none_match_that_matches_is_a_304_without_a_body(client, path, form):
    etag = client.get(path).headers.get("etag") or 'W/"missing"'
    sent = {
        "the-tag": etag,
        "strong-form": etag.removeprefix("W/"),
        "star": "*",
        "in-a-list": f'"0123456789abcdef", {etag}',
    }[form]
    response = client.get(path, headers={"If-None-Match": sent, "Accept-Encoding": "gzip"})
    assert response.status_code == 304, (
        f"GET {path} with If-None-Match: {sent} → {response.status_code}, expected 304 "
        "(If-None-Match compares weakly: W/ is ignored on both sides)"
    )
    assert response.content == b"", f"the 304 of GET {path} has a body {response.content[:80]!r}"
    got = (response.headers.get("etag"), response.headers.get("cache-control"))
    assert got == (etag, CACHE_CONTROL), (
        f"the 304 of GET {path} has ETag, Cache-Control {got}, expected {(etag, CACHE_CONTROL)}"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("path", PRODUCT_PATHS)
def test_a_stale_etag_gets_the_whole_response(client, path):
    response = client.get(path, headers={"If-None-Match": 'W/"0123456789abcdef"'})
    assert response.status_code == 200 and response.content, (
        f"GET {path} with a stale If-None-Match → {response.status_code}, expected 200 with the body"
    )
    assert response.headers.get("etag") == weak_etag(response.content), (
        f"GET {path} with a stale If-None-Match → ETag {response.headers.get('etag')!r}, "
        f"expected the current {weak_etag(response.content)!r}"
    )
    other = client.get("/products/3", headers={"If-None-Match": response.headers.get("etag", "")})
    assert other.status_code == 200, (
        f"GET /products/3 with the ETag of GET {path} → {other.status_code}, expected 200: "
        "another body has another tag"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("path", PRODUCT_PATHS)
def test_a_tag_that_only_contains_the_current_one_gets_the_whole_response(client, path):
    body = client.get(path, headers={"Accept-Encoding": "identity"}).content
    digest = hashlib.sha256(body).hexdigest()
    short = digest[:16]
    for sent in (f'"{short}0"', f'W/"0{short}"', f'"{digest}"', f'W/"{short}-gzip", "x"'):
        response = client.get(path, headers={"If-None-Match": sent})
        assert response.status_code == 200 and response.content == body, (
            f'GET {path} (ETag W/"{short}") with If-None-Match: {sent} → '
            f"{response.status_code}, expected 200 with the body: a tag matches only when it "
            "equals the current one, W/ aside, not when it contains it"
        )


@pytest.mark.task(6)
def test_a_missing_product_has_no_etag_and_no_caching(client):
    response = client.get("/products/9")
    headers = {key: response.headers.get(key) for key in ("etag", "cache-control")}
    assert response.status_code == 404 and headers == {"etag": None, "cache-control": None}, (
        f"GET /products/9 → {response.status_code} with {headers}, expected 404 without "
        "ETag or Cache-Control"
    )
    assert client.get("/products/2").headers.get("etag"), "GET /products/2 has no ETag"


@pytest.mark.task(6)
def test_both_product_routes_document_the_product_schema(client):
    """They return a Response themselves, so their response_model only shows in /openapi.json."""
    document = client.get("/openapi.json").json()
    product = {"$ref": "#/components/schemas/Product"}
    for path, expected in (
        ("/products", {"type": "array", "items": product}),
        ("/products/{product_id}", product),
    ):
        operation = document.get("paths", {}).get(path, {}).get("get", {})
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        shown = {key: value for key, value in schema.items() if key != "title"}
        assert shown == expected, (
            f"/openapi.json shows the 200 of GET {path} as {shown}, expected {expected}: "
            "declare response_model on the route"
        )
    assert "Product" in document.get("components", {}).get("schemas", {}), (
        "/openapi.json has no Product schema under components"
    )


# Task 7 — rate limiting


def exhaust(client, limit):
    """`limit` allowed requests over both product routes, then the one past the limit."""
    for number in range(1, limit + 1):
        path = PRODUCT_PATHS[number % 2]
        response = client.get(path)
        assert response.status_code == 200, (
            f"request {number} of a limit of {limit} (GET {path}) → {response.status_code} "
            f"{body_of(response)}, expected 200"
        )
    return client.get(PRODUCT_PATHS[0])


def retry_after(response):
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


@pytest.mark.task(7)
@pytest.mark.parametrize("limit", [3, 5])
def test_past_the_limit_a_client_gets_429_with_retry_after(monkeypatch, limit):
    monkeypatch.setenv("PROD_RATE_LIMIT", str(limit))
    monkeypatch.setenv("PROD_RATE_WINDOW_SECONDS", "60")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        refused = exhaust(client, limit)
    assert refused.status_code == 429 and refused.json() == {"detail": "Too many requests"}, (
        f"request {limit + 1} of a limit of {limit} → {refused.status_code} {body_of(refused)}, "
        "expected 429 {'detail': 'Too many requests'}"
    )
    seconds = retry_after(refused)
    assert seconds is not None and 50 <= seconds <= 60, (
        f"the 429 has Retry-After {refused.headers.get('retry-after')!r}, expected the whole "
        "seconds until the 60 s window that began with the first request ends (about 60)"
    )


@pytest.mark.task(7)
def test_the_default_limit_is_60_requests_a_minute(monkeypatch):
    monkeypatch.delenv("PROD_RATE_LIMIT")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        refused = exhaust(client, 60)
    assert refused.status_code == 429, (
        f"request 61 without PROD_RATE_LIMIT → {refused.status_code}, expected 429: "
        "the default is 60 requests"
    )
    seconds = retry_after(refused)
    assert seconds is not None and 40 <= seconds <= 60, (
        f"the 429 has Retry-After {refused.headers.get('retry-after')!r}, expected the seconds "
        "left of a 60 s window"
    )


@pytest.mark.task(7)
def test_each_client_address_has_a_limit_of_its_own(monkeypatch):
    monkeypatch.setenv("PROD_RATE_LIMIT", "2")
    with TestClient(kata.app, client=("203.0.113.7", 40001)) as first:
        refused = exhaust(first, 2)
        other = TestClient(kata.app, client=("198.51.100.4", 40002))  # same app, another client
        same_host = TestClient(kata.app, client=("203.0.113.7", 40999))  # another connection
        others = [other.get(path).status_code for path in PRODUCT_PATHS]
        again = same_host.get("/products")
    assert refused.status_code == 429, (
        f"request 3 of 203.0.113.7 with a limit of 2 → {refused.status_code}, expected 429"
    )
    assert others == [200, 200], (
        f"198.51.100.4's first two requests, after 203.0.113.7 used up its limit → {others}, "
        "expected [200, 200]: each client address has its own budget"
    )
    assert again.status_code == 429, (
        f"203.0.113.7 from another port → {again.status_code}, expected 429: the limit is per "
        "address, not per connection"
    )


@pytest.mark.task(7)
def test_probes_and_stats_are_never_limited(monkeypatch):
    monkeypatch.setenv("PROD_RATE_LIMIT", "1")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        refused = exhaust(client, 1)
        answers = {
            path: client.get(path).status_code
            for path in ("/health/live", "/health/ready", "/stats")
        }
    assert refused.status_code == 429, (
        f"request 2 with a limit of 1 → {refused.status_code}, expected 429"
    )
    assert answers == {"/health/live": 200, "/health/ready": 200, "/stats": 200}, (
        f"past the limit, the probes and /stats answered {answers}, expected 200 each: "
        "only the product routes are limited"
    )


@pytest.mark.task(7)
def test_retry_after_counts_down_and_the_window_starts_again(monkeypatch):
    window = 4.0
    monkeypatch.setenv("PROD_RATE_LIMIT", "2")
    monkeypatch.setenv("PROD_RATE_WINDOW_SECONDS", str(window))
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        before_first = time.monotonic()
        first = client.get("/products")
        after_first = time.monotonic()
        time.sleep(1.5)  # part of the window passes before the limit is reached
        second = client.get("/products/2")
        before_refused = time.monotonic()
        refused = client.get("/products")
        after_refused = time.monotonic()
        assert [first.status_code, second.status_code] == [200, 200], (
            f"2 requests with a limit of 2 → {[first.status_code, second.status_code]}, "
            "expected [200, 200]"
        )
        # The window began during the first request and is judged during the refused one.
        most = max(1, math.ceil(window - (before_refused - after_first)))
        least = max(1, math.ceil(window - (after_refused - before_first)))
        seconds = retry_after(refused)
        assert refused.status_code == 429 and seconds is not None and least <= seconds <= most, (
            f"request 3 with a limit of 2 in {window:g} s, "
            f"{before_refused - after_first:.1f} s after the first → {refused.status_code}, "
            f"Retry-After {refused.headers.get('retry-after')!r}, expected 429 with "
            + (f"{most}" if least == most else f"{least} to {most}")
            + ": the whole seconds left until the window that began with the first request ends"
        )
        time.sleep(seconds + 0.3)
        after = [client.get(path).status_code for path in PRODUCT_PATHS]
        again = client.get("/products")
    assert after == [200, 200], (
        f"2 requests once Retry-After ({seconds} s) had passed → {after}, expected [200, 200]: "
        "a new window has begun"
    )
    assert again.status_code == 429, (
        f"a third request in the new window → {again.status_code}, expected 429"
    )
