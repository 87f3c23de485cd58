"""Kata 07 · Errors and middleware — what the stock service must do."""

import re
import time
import uuid

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

import app as kata

ALLOWED = "https://shop.example.com"
REFUSED_ORIGINS = [
    "https://evil.example.com",
    "http://shop.example.com",  # the same host over plain http is another origin
    "https://shop.example.com:8443",  # and so is another port
    "https://www.shop.example.com",
]
ADMIN_KEY = "letmein"
SAFELISTED = {"accept", "accept-language", "content-language", "content-type"}
SIX_DECIMALS = re.compile(r"^\d+\.\d{6}$")


@pytest.fixture
def client():
    # Every test gets a fresh app, so the stock starts as seeded: hammer 3, nails 0.
    # A crash becomes a 500 response here, so the assertion message can say what came back.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def payload(r):
    """The JSON body, or the text when it is not JSON (a crash's 500 is plain text)."""
    try:
        return r.json()
    except ValueError:
        return r.text


def key_of(r, key):
    """One key of the JSON body, or None."""
    data = payload(r)
    return data.get(key) if isinstance(data, dict) else None


def tokens(value):
    """The comma-separated tokens of a header value, lowercased, as a set."""
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def is_uuid4(value):
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


# --- task 1: HTTPException with headers ---------------------------------------------------------


@pytest.mark.task(1)
@pytest.mark.parametrize("item_id", [99, 0, -1])
@pytest.mark.parametrize(("method", "path"), [("GET", "/items/{}"), ("POST", "/items/{}/reserve")])
def test_unknown_item_is_404_with_detail_and_error_code_header(client, method, path, item_id):
    r = client.get("/items/1")
    assert (r.status_code, payload(r)) == (200, {"name": "hammer", "stock": 3}), (
        f"GET /items/1 → {r.status_code} {payload(r)}, expected 200 {{'name': 'hammer', 'stock': 3}}"
    )
    url = path.format(item_id)
    r = client.request(method, url, json={"quantity": 1})
    assert r.status_code == 404, (
        f"{method} {url} → {r.status_code}, expected 404: there is no item {item_id}"
    )
    expected = {"detail": f"Item {item_id} not found"}
    assert payload(r) == expected, f"{method} {url} → body {payload(r)}, expected {expected}"
    assert r.headers.get("X-Error-Code") == "ITEM_NOT_FOUND", (
        f"{method} {url} → X-Error-Code {r.headers.get('X-Error-Code')!r}, "
        "expected 'ITEM_NOT_FOUND': pass headers= to HTTPException"
    )


# --- task 2: a domain exception with its own handler --------------------------------------------


@pytest.mark.task(2)
@pytest.mark.white_box
def test_reserve_stock_raises_a_plain_domain_error_and_keeps_the_stock():
    # White-box: whether OutOfStockError is an HTTPException has no effect an HTTP client can
    # see, and it is the point of the task.
    assert not issubclass(kata.OutOfStockError, HTTPException), (
        "OutOfStockError subclasses HTTPException, expected a plain Exception: "
        "domain code should not know about HTTP"
    )
    with pytest.raises(kata.OutOfStockError) as caught:
        kata.reserve_stock(1, 4)
    err = caught.value
    got = (err.item_id, err.requested, err.available)
    assert got == (1, 4, 3), (
        f"reserve_stock(1, 4) with 3 in stock raised OutOfStockError with "
        f"(item_id, requested, available) = {got}, expected (1, 4, 3)"
    )
    assert kata.reserve_stock(1, 3) == 0, (
        "reserve_stock(1, 3) after a refused reservation should take all 3 and return 0"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("item_id", "quantity", "available"), [(2, 5, 0), (2, 1, 0), (1, 4, 3), (1, 10, 3)]
)
def test_out_of_stock_is_409_with_its_own_body(client, item_id, quantity, available):
    r = client.post(f"/items/{item_id}/reserve", json={"quantity": quantity})
    expected = {
        "error": "out_of_stock",
        "item_id": item_id,
        "requested": quantity,
        "available": available,
    }
    assert r.status_code == 409, (
        f"POST /items/{item_id}/reserve {quantity} (stock {available}) → {r.status_code}, "
        "expected 409"
    )
    assert payload(r) == expected, (
        f"POST /items/{item_id}/reserve {quantity} → body {payload(r)}, expected {expected}"
    )
    r = client.get(f"/items/{item_id}")
    assert key_of(r, "stock") == available, (
        f"GET /items/{item_id} after a refused reservation → {payload(r)}, "
        f"expected stock {available} (unchanged)"
    )


@pytest.mark.task(2)
def test_reservations_take_stock_down_to_zero_then_refuse(client):
    steps = [
        (1, 200, {"item_id": 1, "reserved": 1, "remaining": 2}),
        (2, 200, {"item_id": 1, "reserved": 2, "remaining": 0}),
        (1, 409, {"error": "out_of_stock", "item_id": 1, "requested": 1, "available": 0}),
    ]
    for quantity, status, expected in steps:
        r = client.post("/items/1/reserve", json={"quantity": quantity})
        assert (r.status_code, payload(r)) == (status, expected), (
            f"POST /items/1/reserve {quantity} → {r.status_code} {payload(r)}, "
            f"expected {status} {expected}: reserving exactly what is left is allowed"
        )
    r = client.get("/items/1")
    assert payload(r) == {"name": "hammer", "stock": 0}, (
        f"GET /items/1 after reserving all 3 → {payload(r)}, expected stock 0"
    )


@pytest.mark.task(2)
def test_the_whole_stock_can_be_reserved_at_once(client):
    r = client.post("/items/1/reserve", json={"quantity": 3})
    expected = {"item_id": 1, "reserved": 3, "remaining": 0}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"POST /items/1/reserve 3 of 3 → {r.status_code} {payload(r)}, expected 200 {expected}"
    )


# --- task 3: our own shape for validation errors ------------------------------------------------


def field(name, location, message):
    return {"field": name, "location": location, "message": message}


NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"
TOO_LONG = "String should have at most 100 characters"


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        (
            "POST",
            "/items/1/reserve",
            {"quantity": 0},
            [field("quantity", "body", "Input should be greater than 0")],
        ),
        ("POST", "/items/1/reserve", {"quantity": "many"}, [field("quantity", "body", NOT_AN_INT)]),
        ("GET", "/items/abc", None, [field("item_id", "path", NOT_AN_INT)]),
        ("POST", "/items/1/reserve", None, [field("", "body", "Field required")]),
        (
            "POST",
            "/items/1/reserve",
            {"quantity": 1, "note": {"text": "x" * 101}},
            [field("note.text", "body", TOO_LONG)],
        ),
    ],
    ids=["quantity-0", "quantity-text", "path", "no-body", "nested"],
)
def test_validation_error_is_422_in_our_shape(client, method, path, body, expected):
    r = client.request(method, path, json=body)
    assert r.status_code == 422, f"{method} {path} {body} → {r.status_code}, expected 422"
    wanted = {"error": "validation_failed", "fields": expected}
    assert payload(r) == wanted, (
        f"{method} {path} {body} → {payload(r)}, expected {wanted}: location is loc[0], field the "
        "rest of loc joined with dots ('' when nothing is left), message the error's msg"
    )


@pytest.mark.task(3)
def test_every_failing_field_is_listed_in_order(client):
    body = {"quantity": -1, "note": {"text": "y" * 101}}
    r = client.post("/items/abc/reserve", json=body)
    expected = {
        "error": "validation_failed",
        "fields": [
            field("item_id", "path", NOT_AN_INT),
            field("quantity", "body", "Input should be greater than 0"),
            field("note.text", "body", TOO_LONG),
        ],
    }
    assert (r.status_code, payload(r)) == (422, expected), (
        f"POST /items/abc/reserve {body} → {r.status_code} {payload(r)}, expected 422 {expected}: "
        "one entry per error, in the order of exc.errors()"
    )


@pytest.mark.task(3)
def test_other_http_errors_keep_fastapis_detail(client):
    r = client.post("/items/1/reserve", json={"quantity": 0})
    assert r.status_code == 422 and key_of(r, "error") == "validation_failed", (
        f"POST /items/1/reserve {{'quantity': 0}} → {r.status_code} {payload(r)}, "
        "expected 422 with error 'validation_failed'"
    )
    for method, path, status, detail in [
        ("GET", "/no-such-path", 404, "Not Found"),
        ("DELETE", "/items/1", 405, "Method Not Allowed"),
        ("GET", "/items/99", 404, "Item 99 not found"),  # task 1's HTTPException
    ]:
        r = client.request(method, path)
        assert (r.status_code, payload(r)) == (status, {"detail": detail}), (
            f"{method} {path} → {r.status_code} {payload(r)!r}, expected {status} "
            f"{{'detail': {detail!r}}}: only validation errors change shape"
        )


# --- task 4: request context middleware -----------------------------------------------------


@pytest.mark.task(4)
def test_incoming_request_id_is_echoed_and_visible_to_handlers(client):
    r = client.get("/health", headers={"X-Request-ID": "req-42"})
    assert r.headers.get("X-Request-ID") == "req-42", (
        f"GET /health with X-Request-ID req-42 → header {r.headers.get('X-Request-ID')!r}, "
        "expected 'req-42' echoed back"
    )
    assert payload(r) == {"status": "ok", "request_id": "req-42"}, (
        f"GET /health with X-Request-ID req-42 → body {payload(r)}, expected request_id 'req-42': "
        "store it on request.state.request_id"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize("sent", [None, ""], ids=["missing", "empty"])
def test_missing_or_empty_request_id_is_a_fresh_uuid4(client, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    ids = []
    for _ in range(2):
        r = client.get("/health", headers=headers)
        value = r.headers.get("X-Request-ID")
        assert is_uuid4(value), (
            f"GET /health with X-Request-ID {sent!r} → header {value!r}, "
            "expected a new str(uuid.uuid4()) such as '1b4e28ba-2fa1-41d2-883f-0016d3cca427'"
        )
        assert key_of(r, "request_id") == value, (
            f"GET /health → body {payload(r)}, header X-Request-ID {value!r}: expected the same id"
        )
        ids.append(value)
    assert ids[0] != ids[1], (
        f"two GET /health → the same X-Request-ID {ids[0]!r}, expected new ones"
    )


@pytest.mark.task(4)
def test_process_time_is_seconds_with_six_decimals(client):
    start = time.perf_counter()
    r = client.get("/health")
    wall = time.perf_counter() - start
    value = r.headers.get("X-Process-Time")
    assert value is not None and SIX_DECIMALS.match(value), (
        f"GET /health → X-Process-Time {value!r}, expected seconds with six decimals "
        "such as '0.000412' (f'{elapsed:.6f}')"
    )
    assert float(value) <= wall, (
        f"GET /health took {wall:.6f} s here, but X-Process-Time says {value}: "
        "expected seconds, not milliseconds"
    )


@pytest.mark.task(4)
def test_process_time_covers_the_whole_request(client):
    client.get("/health")  # the app is up and warm before the slow request

    def slow_body():
        time.sleep(0.4)  # a slow client: FastAPI waits for the body before it can validate it
        yield b'{"quantity": 0}'

    start = time.perf_counter()
    r = client.post(
        "/items/1/reserve", content=slow_body(), headers={"Content-Type": "application/json"}
    )
    wall = time.perf_counter() - start
    assert r.status_code == 422, (
        f"POST /items/1/reserve (slow body) → {r.status_code}, expected 422"
    )
    value = r.headers.get("X-Process-Time")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        pytest.fail(f"POST /items/1/reserve → X-Process-Time {value!r}, expected seconds")
    assert 0.2 <= seconds <= wall, (
        f"POST /items/1/reserve whose body took 0.4 s to arrive → X-Process-Time {value!r} "
        f"(the request took {wall:.3f} s here), expected at least 0.2: start the clock before "
        "call_next and read it after"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/no-such-path", None, 404),
        ("DELETE", "/items/1", None, 405),
        ("GET", "/items/abc", None, 422),
    ],
)
def test_error_responses_carry_the_headers_too(client, method, path, body, status):
    # 404, 405 and 422 come from exception handlers, inside every middleware.
    r = client.request(method, path, json=body, headers={"X-Request-ID": "err-1"})
    value = r.headers.get("X-Process-Time")
    got = (r.status_code, r.headers.get("X-Request-ID"), bool(value and SIX_DECIMALS.match(value)))
    assert got == (status, "err-1", True), (
        f"{method} {path} → (status, X-Request-ID, X-Process-Time like 0.000412) = {got}, "
        f"expected ({status}, 'err-1', True): error responses pass through the middleware too"
    )


# --- task 5: CORS -----------------------------------------------------------------------------


def preflight(client, origin, path="/items/1", method="POST", headers="content-type"):
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request_headers)


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", "content-type"),
        ("GET", "x-api-key"),
        ("POST", "content-type, x-request-id, x-api-key"),
    ],
)
def test_preflight_from_the_shop_allows_exactly_the_named_methods_and_headers(
    client, method, headers
):
    r = preflight(client, ALLOWED, method=method, headers=headers)
    what = f"preflight from {ALLOWED} for {method} with headers {headers!r}"
    assert r.status_code == 200, f"{what} → {r.status_code} {r.text!r}, expected 200"
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert allow == ALLOWED, f"{what} → Access-Control-Allow-Origin {allow!r}, expected {ALLOWED!r}"
    methods = tokens(r.headers.get("Access-Control-Allow-Methods"))
    assert methods == {"get", "post"}, (
        f"{what} → Access-Control-Allow-Methods {r.headers.get('Access-Control-Allow-Methods')!r}, "
        "expected exactly GET and POST"
    )
    allowed = tokens(r.headers.get("Access-Control-Allow-Headers"))
    expected = SAFELISTED | {"x-request-id", "x-api-key"}
    assert allowed == expected, (
        f"{what} → Access-Control-Allow-Headers {r.headers.get('Access-Control-Allow-Headers')!r}, "
        f"expected exactly {sorted(expected)} (Starlette adds the CORS-safelisted ones itself)"
    )
    assert "Access-Control-Allow-Credentials" not in r.headers, (
        f"{what} → Access-Control-Allow-Credentials "
        f"{r.headers.get('Access-Control-Allow-Credentials')!r}, expected none: no credentials"
    )


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("method", "headers"),
    [("DELETE", None), ("PUT", "content-type"), ("POST", "x-other"), ("GET", "x-api-key, x-other")],
)
def test_preflight_for_another_method_or_header_is_refused(client, method, headers):
    r = preflight(client, ALLOWED, method=method, headers=headers)
    assert r.status_code == 400, (
        f"preflight from {ALLOWED} for {method} with headers {headers!r} → {r.status_code} "
        f"{r.text!r}, expected 400 (Starlette's 'Disallowed CORS …'): only GET and POST, and only "
        "Content-Type, X-Request-ID and X-API-Key are allowed"
    )


@pytest.mark.task(5)
@pytest.mark.parametrize("origin", REFUSED_ORIGINS)
def test_other_origins_get_no_cors_headers(client, origin):
    r = preflight(client, ALLOWED)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, (
        f"preflight from {ALLOWED} → {r.status_code}, Access-Control-Allow-Origin "
        f"{r.headers.get('Access-Control-Allow-Origin')!r}, expected {ALLOWED!r}"
    )
    for r, what in [
        (preflight(client, origin), "preflight"),
        (client.get("/items/1", headers={"Origin": origin}), "GET /items/1"),
    ]:
        allow = r.headers.get("Access-Control-Allow-Origin")
        assert allow is None, (
            f"{what} from {origin} → Access-Control-Allow-Origin {allow!r}, expected none: "
            f"only {ALLOWED} (that scheme, host and port) is allowed"
        )


@pytest.mark.task(5)
def test_simple_request_from_the_shop_exposes_both_headers(client):
    r = client.get("/items/1", headers={"Origin": ALLOWED})
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert r.status_code == 200 and allow == ALLOWED, (
        f"GET /items/1 from {ALLOWED} → {r.status_code}, Access-Control-Allow-Origin {allow!r}, "
        f"expected 200 and {ALLOWED!r}"
    )
    exposed = r.headers.get("Access-Control-Expose-Headers")
    assert tokens(exposed) == {"x-request-id", "x-process-time"}, (
        f"GET /items/1 from {ALLOWED} → Access-Control-Expose-Headers {exposed!r}, "
        "expected exactly X-Request-ID and X-Process-Time, so browser code can read both"
    )
    assert "Access-Control-Allow-Credentials" not in r.headers, (
        f"GET /items/1 from {ALLOWED} → Access-Control-Allow-Credentials "
        f"{r.headers.get('Access-Control-Allow-Credentials')!r}, expected none"
    )


# --- task 6: middleware order -----------------------------------------------------------------


ADMIN_PATHS = [
    ("GET", "/admin/stats"),
    ("POST", "/admin/stats"),
    ("GET", "/admin"),
    ("GET", "/admin/"),
    ("GET", "/admin/users/7"),
]


@pytest.mark.task(6)
@pytest.mark.parametrize("key", [None, "wrong", "", "LETMEIN", "letmein-2"])
def test_admin_paths_refuse_a_missing_or_wrong_key(client, key):
    headers = {"X-Request-ID": "adm-1"}
    if key is not None:
        headers["X-API-Key"] = key
    expected = {"error": "invalid_api_key", "request_id": "adm-1"}
    for method, path in ADMIN_PATHS:
        r = client.request(method, path, headers=headers)
        assert (r.status_code, payload(r)) == (401, expected), (
            f"{method} {path} with X-API-Key {key!r} → {r.status_code} {payload(r)}, "
            f"expected 401 {expected}: the guard answers /admin and every path under /admin/, "
            "whatever the method, before routing"
        )


@pytest.mark.task(6)
def test_the_right_key_opens_admin_and_other_paths_need_none(client):
    r = client.get("/admin/stats", headers={"X-API-Key": ADMIN_KEY})
    expected = {"items": 2, "units_in_stock": 3}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"GET /admin/stats with X-API-Key {ADMIN_KEY!r} → {r.status_code} {payload(r)}, "
        f"expected 200 {expected}"
    )
    r = client.get("/admin/stats", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401, (
        f"GET /admin/stats with a wrong key → {r.status_code}, expected 401"
    )
    for path, status in [
        ("/items/1", 200),
        ("/health", 200),
        ("/administrator", 404),
        ("/admins", 404),
    ]:
        r = client.get(path)
        assert r.status_code == status, (
            f"GET {path} without X-API-Key → {r.status_code}, expected {status}: only /admin and "
            "paths under /admin/ are guarded"
        )


@pytest.mark.task(6)
def test_guard_runs_inside_request_context(client):
    # Inward, request_context runs first: the guard can read request.state.request_id.
    # Outward, it runs last: the guard's 401 still gets X-Request-ID and X-Process-Time.
    r = client.get("/admin/stats", headers={"X-Request-ID": "adm-7"})
    assert r.status_code == 401, (
        f"GET /admin/stats without X-API-Key → {r.status_code}, expected 401"
    )
    assert key_of(r, "request_id") == "adm-7", (
        f"GET /admin/stats → body {payload(r)}, expected request_id 'adm-7': "
        "the guard must run after (inside) the request-context middleware"
    )
    value = r.headers.get("X-Process-Time")
    got = (r.headers.get("X-Request-ID"), bool(value and SIX_DECIMALS.match(value)))
    assert got == ("adm-7", True), (
        f"guard's 401 → (X-Request-ID, X-Process-Time like 0.000412) = {got}, "
        "expected ('adm-7', True): the request-context middleware must wrap the guard"
    )
    r = client.get("/admin/stats")
    made = r.headers.get("X-Request-ID")
    assert is_uuid4(made) and key_of(r, "request_id") == made, (
        f"GET /admin/stats without X-Request-ID → header {made!r}, body {payload(r)}: expected the "
        "new uuid4 in both"
    )


@pytest.mark.task(6)
def test_cors_runs_outside_the_guard_and_the_request_context(client):
    # A browser sends the preflight without the key: CORS must answer it before the guard,
    # and before request_context, so a preflight carries no X-Request-ID.
    r = preflight(client, ALLOWED, path="/admin/stats", method="GET", headers="x-api-key")
    allow = r.headers.get("Access-Control-Allow-Origin")
    assert r.status_code == 200 and allow == ALLOWED, (
        f"OPTIONS /admin/stats preflight from {ALLOWED} → {r.status_code}, "
        f"Access-Control-Allow-Origin {allow!r}; expected 200 and {ALLOWED!r}: "
        "add CORS last, so it is the outermost"
    )
    assert "X-Request-ID" not in r.headers, (
        f"preflight → X-Request-ID {r.headers.get('X-Request-ID')!r}, expected none: CORS answers "
        "preflights itself, outside request_context"
    )
    # The guard's own 401 must carry CORS headers too, or browser code cannot read it.
    r = client.get("/admin/stats", headers={"Origin": ALLOWED})
    allow = r.headers.get("Access-Control-Allow-Origin")
    exposed = tokens(r.headers.get("Access-Control-Expose-Headers"))
    assert r.status_code == 401 and allow == ALLOWED and "x-request-id" in exposed, (
        f"GET /admin/stats from {ALLOWED} without key → {r.status_code}, "
        f"Access-Control-Allow-Origin {allow!r}, Access-Control-Expose-Headers {exposed}; "
        f"expected 401, {ALLOWED!r} and X-Request-ID exposed"
    )
