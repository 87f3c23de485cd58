"""Kata 07 · Errors and middleware — what the stock service must do."""

import copy
import uuid

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

import app as kata

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

ALLOWED = "https://shop.example.com"
OTHER = "https://evil.example.com"


@pytest.fixture
def client(monkeypatch):
    # A fresh copy of the stock for every test, so reservations never leak between tests.
    monkeypatch.setattr(kata, "ITEMS", copy.deepcopy(kata.ITEMS))
    # A crash becomes a 500 response here, so the assertion message can say what came back.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def fields_of(body):
    """The (location, field) pairs of our custom 422 body, or None if it has another shape."""
    if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
        return None
    return {(f.get("location"), f.get("field")) for f in body["fields"] if isinstance(f, dict)}


# --- task 1: HTTPException with headers ---------------------------------------------------------


@pytest.mark.task(1)
@pytest.mark.parametrize(("method", "path"), [("GET", "/items/99"), ("POST", "/items/99/reserve")])
def test_unknown_item_is_404_with_detail_and_error_code_header(client, method, path):
    r = client.get("/items/1")
    assert r.status_code == 200, f"GET /items/1 → {r.status_code}, expected 200: item 1 exists"
    r = client.request(method, path, json={"quantity": 1})
    assert r.status_code == 404, f"{method} {path} → {r.status_code}, expected 404: no item 99"
    assert r.json() == {"detail": "Item 99 not found"}, (
        f"{method} {path} → body {r.json()}, expected {{'detail': 'Item 99 not found'}}"
    )
    assert r.headers.get("X-Error-Code") == "ITEM_NOT_FOUND", (
        f"{method} {path} → X-Error-Code {r.headers.get('X-Error-Code')!r}, "
        "expected 'ITEM_NOT_FOUND': pass headers= to HTTPException"
    )


# --- task 2: a domain exception with its own handler --------------------------------------------


@pytest.mark.task(2)
def test_reserve_stock_raises_the_domain_error_not_an_http_one(client):
    assert not issubclass(kata.OutOfStockError, HTTPException), (
        "OutOfStockError subclasses HTTPException, expected a plain Exception: "
        "domain code should not know about HTTP"
    )
    with pytest.raises(kata.OutOfStockError) as caught:
        kata.reserve_stock(2, 5)
    err = caught.value
    got = (err.item_id, err.requested, err.available)
    assert got == (2, 5, 0), (
        f"reserve_stock(2, 5) raised OutOfStockError with (item_id, requested, available) = "
        f"{got}, expected (2, 5, 0)"
    )


@pytest.mark.task(2)
def test_out_of_stock_is_409_with_its_own_body(client):
    r = client.post("/items/2/reserve", json={"quantity": 5})
    expected = {"error": "out_of_stock", "item_id": 2, "requested": 5, "available": 0}
    assert r.status_code == 409, f"POST /items/2/reserve (stock 0) → {r.status_code}, expected 409"
    assert r.json() == expected, f"POST /items/2/reserve → body {r.json()}, expected {expected}"


@pytest.mark.task(2)
def test_reservations_take_stock_until_it_runs_out(client):
    r = client.post("/items/1/reserve", json={"quantity": 2})
    expected = {"item_id": 1, "reserved": 2, "remaining": 1}
    assert r.status_code == 200, f"POST /items/1/reserve 2 of 3 → {r.status_code}, expected 200"
    assert r.json() == expected, f"POST /items/1/reserve 2 of 3 → {r.json()}, expected {expected}"
    r = client.post("/items/1/reserve", json={"quantity": 2})
    assert r.status_code == 409, (
        f"second POST /items/1/reserve 2 (1 left) → {r.status_code}, expected 409"
    )
    assert r.json().get("available") == 1, (
        f"second POST /items/1/reserve 2 → {r.json()}, expected available 1"
    )
    r = client.get("/items/1")
    assert r.json().get("stock") == 1, (
        f"GET /items/1 after a failed reservation → {r.json()}, expected stock 1 (unchanged)"
    )


# --- task 3: our own shape for validation errors ------------------------------------------------


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("method", "path", "body", "failed"),
    [
        ("POST", "/items/1/reserve", {"quantity": 0}, ("body", "quantity")),
        ("POST", "/items/1/reserve", {"quantity": "many"}, ("body", "quantity")),
        ("GET", "/items/abc", None, ("path", "item_id")),
    ],
)
def test_validation_error_is_422_in_our_shape_naming_the_field(client, method, path, body, failed):
    r = client.request(method, path, json=body)
    assert r.status_code == 422, f"{method} {path} {body} → {r.status_code}, expected 422"
    data = r.json()
    assert data.get("error") == "validation_failed" and "detail" not in data, (
        f"{method} {path} {body} → {data}, expected "
        "{'error': 'validation_failed', 'fields': [...]} instead of FastAPI's default 'detail'"
    )
    got = fields_of(data)
    assert got is not None and failed in got, (
        f"{method} {path} {body} → fields {data.get('fields')}, expected an entry with "
        f"location {failed[0]!r} and field {failed[1]!r}"
    )
    messages = [f.get("message") for f in data["fields"]]
    assert all(isinstance(m, str) and m for m in messages), (
        f"{method} {path} {body} → messages {messages}, expected a non-empty message per field"
    )


@pytest.mark.task(3)
def test_every_failing_field_is_listed(client):
    r = client.post("/items/abc/reserve", json={"quantity": -1})
    got = fields_of(r.json())
    expected = {("path", "item_id"), ("body", "quantity")}
    assert r.status_code == 422 and got == expected, (
        f"POST /items/abc/reserve {{'quantity': -1}} → {r.status_code} {r.json()}, "
        f"expected 422 with (location, field) pairs {expected}"
    )


# --- task 4: request context middleware -----------------------------------------------------


@pytest.mark.task(4)
def test_incoming_request_id_is_echoed_and_visible_to_handlers(client):
    r = client.get("/health", headers={"X-Request-ID": "req-42"})
    assert r.headers.get("X-Request-ID") == "req-42", (
        f"GET /health with X-Request-ID req-42 → header {r.headers.get('X-Request-ID')!r}, "
        "expected 'req-42' echoed back"
    )
    assert r.json().get("request_id") == "req-42", (
        f"GET /health with X-Request-ID req-42 → body {r.json()}, expected request_id 'req-42': "
        "store it on request.state.request_id"
    )


@pytest.mark.task(4)
def test_missing_request_id_is_created_as_a_fresh_uuid(client):
    ids = [client.get("/health").headers.get("X-Request-ID") for _ in range(2)]
    for value in ids:
        try:
            uuid.UUID(str(value))
        except ValueError:
            pytest.fail(f"GET /health without X-Request-ID → header {value!r}, expected a UUID")
    assert ids[0] != ids[1], (
        f"two GET /health → the same X-Request-ID {ids[0]!r}, expected new ones"
    )


@pytest.mark.task(4)
def test_process_time_is_seconds_as_a_number(client):
    value = client.get("/health").headers.get("X-Process-Time")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        pytest.fail(f"GET /health → X-Process-Time {value!r}, expected seconds as a number")
    assert 0 <= seconds < 5, f"GET /health → X-Process-Time {seconds}, expected 0 ≤ t < 5 seconds"


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/no-such-path"), ("DELETE", "/items/1"), ("GET", "/items/abc")]
)
def test_error_responses_carry_the_headers_too(client, method, path):
    # 404, 405 and 422 come from FastAPI's own exception handlers, inside every middleware.
    r = client.request(method, path, headers={"X-Request-ID": "err-1"})
    got = (r.headers.get("X-Request-ID"), "X-Process-Time" in r.headers)
    assert got == ("err-1", True), (
        f"{method} {path} → {r.status_code} with (X-Request-ID, has X-Process-Time) = {got}, "
        "expected ('err-1', True): error responses pass through the middleware too"
    )


# --- task 5: CORS -----------------------------------------------------------------------------


def preflight(client, origin, path="/items/1", method="POST", headers="content-type"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.task(5)
def test_preflight_succeeds_from_the_allowed_origin_only(client):
    r = preflight(client, ALLOWED)
    assert r.status_code == 200, (
        f"OPTIONS /items/1 preflight from {ALLOWED} → {r.status_code}, expected 200"
    )
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow == ALLOWED, (
        f"preflight from {ALLOWED} → Access-Control-Allow-Origin {allow!r}, expected {ALLOWED!r}"
    )
    methods = r.headers.get("Access-Control-Allow-Methods", "")
    assert "POST" in methods, (
        f"preflight for POST → Access-Control-Allow-Methods {methods!r}, expected POST in it"
    )
    r = preflight(client, OTHER)
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow is None, (
        f"preflight from {OTHER} → Access-Control-Allow-Origin {allow!r}, expected no such header: "
        f"only {ALLOWED} is allowed"
    )


@pytest.mark.task(5)
def test_simple_request_exposes_our_headers_to_the_allowed_origin_only(client):
    r = client.get("/items/1", headers={"Origin": ALLOWED})
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow == ALLOWED, (
        f"GET /items/1 from {ALLOWED} → Access-Control-Allow-Origin {allow!r}, expected {ALLOWED!r}"
    )
    exposed = r.headers.get("Access-Control-Expose-Headers", "").lower()
    assert "x-request-id" in exposed, (
        f"GET /items/1 from {ALLOWED} → Access-Control-Expose-Headers {exposed!r}, "
        "expected X-Request-ID in it so browser code can read it"
    )
    r = client.get("/items/1", headers={"Origin": OTHER})
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow is None, (
        f"GET /items/1 from {OTHER} → Access-Control-Allow-Origin {allow!r}, expected none"
    )


# --- task 6: middleware order -----------------------------------------------------------------


@pytest.mark.task(6)
def test_admin_guard_rejects_a_missing_key_and_lets_the_right_one_in(client):
    r = client.get("/admin/stats")
    assert r.status_code == 401, (
        f"GET /admin/stats without X-API-Key → {r.status_code}, expected 401"
    )
    assert r.json().get("error") == "missing_api_key", (
        f"GET /admin/stats without X-API-Key → {r.json()}, expected error 'missing_api_key'"
    )
    r = client.get("/admin/stats", headers={"X-API-Key": kata.ADMIN_API_KEY})
    assert r.status_code == 200, (
        f"GET /admin/stats with the right X-API-Key → {r.status_code}, expected 200"
    )
    r = client.get("/items/1")
    assert r.status_code == 200, (
        f"GET /items/1 without X-API-Key → {r.status_code}, expected 200: only /admin is guarded"
    )


@pytest.mark.task(6)
def test_guard_runs_inside_request_context(client):
    # Inward, request_context runs first: the guard can read request.state.request_id.
    # Outward, it runs last: the guard's 401 still gets X-Request-ID and X-Process-Time.
    r = client.get("/admin/stats", headers={"X-Request-ID": "adm-7"})
    assert r.status_code == 401, (
        f"GET /admin/stats without X-API-Key → {r.status_code}, expected 401"
    )
    assert r.json().get("request_id") == "adm-7", (
        f"GET /admin/stats → body {r.json()}, expected request_id 'adm-7': "
        "the guard must run after (inside) the request-context middleware"
    )
    got = (r.headers.get("X-Request-ID"), "X-Process-Time" in r.headers)
    assert got == ("adm-7", True), (
        f"guard's 401 → (X-Request-ID, has X-Process-Time) = {got}, expected ('adm-7', True): "
        "the request-context middleware must wrap the guard"
    )


@pytest.mark.task(6)
def test_cors_runs_outside_the_guard(client):
    # A browser sends the preflight without credentials: CORS must answer it before the guard.
    r = preflight(client, ALLOWED, path="/admin/stats", method="GET", headers="x-api-key")
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert r.status_code == 200 and allow == ALLOWED, (
        f"OPTIONS /admin/stats preflight from {ALLOWED} → {r.status_code}, "
        f"Access-Control-Allow-Origin {allow!r}; expected 200 and {ALLOWED!r}: "
        "add CORS last, so it is the outermost"
    )
    # The guard's own 401 must carry CORS headers too, or browser code cannot read it.
    r = client.get("/admin/stats", headers={"Origin": ALLOWED})
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert r.status_code == 401 and allow == ALLOWED, (
        f"GET /admin/stats from {ALLOWED} without key → {r.status_code}, "
        f"Access-Control-Allow-Origin {allow!r}; expected 401 and {ALLOWED!r}"
    )
