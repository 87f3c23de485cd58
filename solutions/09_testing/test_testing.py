"""A reference test suite for app.py: passes on the app, catches every buggy copy of it."""

import time
from datetime import datetime, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

AUTH = {"X-API-Key": "let-me-in"}
FROZEN_NOW = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
WIDGET = {"name": "Widget", "price": 2.5, "quantity": 3}


class FakeMailer:
    """Stands in for SmtpMailer: remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, subject: str) -> None:
        self.sent.append((to, subject))


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def overrides(mailer):
    """Swap every outside resource for a test double; undo it after the test."""
    store = kata.ItemStore()
    kata.app.dependency_overrides[kata.get_store] = lambda: store
    kata.app.dependency_overrides[kata.get_mailer] = lambda: mailer
    kata.app.dependency_overrides[kata.get_now] = lambda: FROZEN_NOW
    yield
    kata.app.dependency_overrides.clear()


@pytest.fixture
def client(overrides):
    with TestClient(kata.app) as client:
        yield client


def create(client: TestClient, **fields) -> dict:
    """POST a valid item (WIDGET changed by `fields`) and return its JSON."""
    r = client.post("/items", json=WIDGET | fields, headers=AUTH)
    assert r.status_code == 201, f"POST /items → {r.status_code} {r.text}, expected 201"
    return r.json()


def assert_not_found(r: httpx.Response, item_id: int) -> None:
    assert r.status_code == 404, (
        f"{r.request.method} {r.request.url.path} → {r.status_code}, expected 404"
    )
    assert r.json() == {"detail": f"Item {item_id} not found"}


# Task 1 — status codes and bodies


@pytest.mark.task(1)
def test_create_returns_201_with_the_stored_item(client):
    r = client.post("/items", json=WIDGET, headers=AUTH)
    assert r.status_code == 201, f"POST /items → {r.status_code}, expected 201 Created"
    assert r.json() == WIDGET | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}


@pytest.mark.task(1)
def test_read_returns_the_item_and_404_when_missing(client):
    item = create(client)
    r = client.get(f"/items/{item['id']}")
    assert r.status_code == 200, f"GET /items/1 → {r.status_code}, expected 200"
    assert r.json() == item
    assert_not_found(client.get("/items/999"), 999)


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("changes", "changed"),
    [
        ({"price": 4.0}, {"price": 4.0}),
        ({"quantity": 7}, {"quantity": 7}),
        ({"price": 4.0, "quantity": 0}, {"price": 4.0, "quantity": 0}),
        ({}, {}),
        ({"price": None}, {}),
        ({"name": "Gizmo"}, {}),
    ],
    ids=["price", "quantity", "both", "nothing", "null price", "name"],
)
def test_patch_changes_only_the_fields_sent(client, changes, changed):
    item = create(client)
    r = client.patch(f"/items/{item['id']}", json=changes, headers=AUTH)
    assert r.status_code == 200, f"PATCH /items/1 {changes} → {r.status_code}, expected 200"
    assert r.json() == item | changed, f"PATCH /items/1 {changes} → {r.json()}"
    assert client.get(f"/items/{item['id']}").json() == item | changed


@pytest.mark.task(1)
def test_patch_of_a_missing_item_is_404(client):
    assert_not_found(client.patch("/items/999", json={"quantity": 7}, headers=AUTH), 999)


@pytest.mark.task(1)
def test_delete_returns_204_and_the_item_is_gone(client):
    item = create(client)
    r = client.delete(f"/items/{item['id']}", headers=AUTH)
    assert r.status_code == 204, f"DELETE /items/1 → {r.status_code}, expected 204"
    assert r.content == b"", "a 204 response has no body"
    assert_not_found(client.get(f"/items/{item['id']}"), item["id"])


@pytest.mark.task(1)
def test_delete_of_a_missing_item_is_404(client):
    assert_not_found(client.delete("/items/999", headers=AUTH), 999)


# Task 2 — validation


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "body",
    [
        {"price": 2.5},
        {"name": "", "price": 2.5},
        {"name": "x" * 51, "price": 2.5},
        {"name": "Widget"},
        {"name": "Widget", "price": 0},
        {"name": "Widget", "price": -1},
        {"name": "Widget", "price": "cheap"},
        {"name": "Widget", "price": 2.5, "quantity": -1},
    ],
)
def test_create_rejects_a_bad_body_with_422(client, body):
    r = client.post("/items", json=body, headers=AUTH)
    assert r.status_code == 422, f"POST /items {body} → {r.status_code}, expected 422"
    assert client.get("/items").json() == {"items": [], "total": 0}, "a refused item is not stored"


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ({"name": "x", "price": 2.5}, {"name": "x", "price": 2.5, "quantity": 0}),
        ({"name": "x" * 50, "price": 2.5}, {"name": "x" * 50, "price": 2.5, "quantity": 0}),
        (
            {"name": "Pin", "price": 0.01, "quantity": 0},
            {"name": "Pin", "price": 0.01, "quantity": 0},
        ),
    ],
    ids=["name of 1", "name of 50", "cheap, none in stock"],
)
def test_create_accepts_values_on_the_bounds(client, body, stored):
    r = client.post("/items", json=body, headers=AUTH)
    assert r.status_code == 201, f"POST /items {body} → {r.status_code}, expected 201"
    assert r.json() == stored | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "changes", [{"price": 0}, {"price": -1}, {"price": "cheap"}, {"quantity": -1}]
)
def test_update_rejects_bad_changes_with_422(client, changes):
    item = create(client)
    r = client.patch(f"/items/{item['id']}", json=changes, headers=AUTH)
    assert r.status_code == 422, f"PATCH /items/1 {changes} → {r.status_code}, expected 422"
    assert client.get(f"/items/{item['id']}").json() == item, "a refused change is not applied"


@pytest.mark.task(2)
@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=ten"])
def test_paging_parameters_out_of_range_are_422(client, query):
    r = client.get(f"/items?{query}")
    assert r.status_code == 422, f"GET /items?{query} → {r.status_code}, expected 422"


@pytest.mark.task(2)
@pytest.mark.parametrize("query", ["limit=1", "limit=100", "offset=0"])
def test_paging_parameters_at_the_bounds_are_accepted(client, query):
    r = client.get(f"/items?{query}")
    assert r.status_code == 200, f"GET /items?{query} → {r.status_code}, expected 200"


# Task 3 — authentication

CHANGES = [
    ("POST", "/items", WIDGET),
    ("PATCH", "/items/1", {"quantity": 0}),
    ("DELETE", "/items/1", None),
]


@pytest.mark.task(3)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "guess"}], ids=["no key", "wrong key"])
@pytest.mark.parametrize(("method", "url", "body"), CHANGES, ids=["post", "patch", "delete"])
def test_changes_without_a_valid_key_are_401_and_change_nothing(client, method, url, body, headers):
    before = create(client)
    r = client.request(method, url, json=body, headers=headers)
    assert r.status_code == 401, f"{method} {url} with {headers} → {r.status_code}, expected 401"
    assert r.headers.get("WWW-Authenticate") == "ApiKey"
    assert client.get("/items").json() == {"items": [before], "total": 1}, "nothing may change"


@pytest.mark.task(3)
def test_reading_needs_no_key(client):
    item = create(client)
    r = client.get("/items")
    assert r.status_code == 200, f"GET /items without a key → {r.status_code}, expected 200"
    r = client.get(f"/items/{item['id']}")
    assert r.status_code == 200, f"GET /items/1 without a key → {r.status_code}, expected 200"


# Task 4 — pagination

FRUIT = ["plum", "apple", "fig", "pear", "kiwi"]  # created in this order, which is not sorted


@pytest.mark.task(4)
def test_an_empty_store_lists_an_empty_page(client):
    r = client.get("/items")
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0}


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("limit=2", ["plum", "apple"]),
        ("limit=2&offset=2", ["fig", "pear"]),
        ("limit=2&offset=4", ["kiwi"]),
        ("limit=2&offset=5", []),
        ("offset=9", []),
        ("limit=5", FRUIT),
        ("limit=1&offset=3", ["pear"]),
        ("offset=1", FRUIT[1:]),
    ],
)
def test_pages_cut_the_collection_at_limit_and_offset(client, query, names):
    for name in FRUIT:
        create(client, name=name)
    r = client.get(f"/items?{query}")
    assert r.status_code == 200, f"GET /items?{query} → {r.status_code}, expected 200"
    page = r.json()
    got = [item["name"] for item in page["items"]]
    assert got == names, f"GET /items?{query} with {FRUIT} → {got}, expected {names}"
    assert page["total"] == 5, f"GET /items?{query} → total {page['total']}, expected 5"


@pytest.mark.task(4)
def test_default_page_size_is_10(client):
    names = [f"item {n}" for n in range(12)]
    for name in names:
        create(client, name=name)
    page = client.get("/items").json()
    got = [item["name"] for item in page["items"]]
    assert got == names[:10], f"GET /items with 12 items → {got}, expected the first 10"
    assert page["total"] == 12


# Task 5 — dependency overrides


@pytest.mark.task(5)
def test_create_mails_the_stock_team_through_the_mailer_dependency(client, mailer, monkeypatch):
    real_outbox: list[tuple[str, str]] = []
    monkeypatch.setattr(kata, "SENT_FOR_REAL", real_outbox)
    create(client, name="Gadget")
    assert mailer.sent == [("stock@example.com", "New item: Gadget")], f"fake got {mailer.sent}"
    assert real_outbox == [], f"the real mailer sent {real_outbox}: get_mailer was not used"


@pytest.mark.task(5)
def test_a_rejected_create_sends_no_mail(client, mailer):
    client.post("/items", json={"name": "Gadget", "price": -1}, headers=AUTH)
    client.post("/items", json={"name": "x" * 51, "price": 2.5}, headers=AUTH)
    client.post("/items", json=WIDGET)
    client.post("/items", json=WIDGET, headers={"X-API-Key": "guess"})
    assert mailer.sent == [], f"mail sent for a refused item: {mailer.sent}"


@pytest.mark.task(5)
@pytest.mark.asyncio
async def test_created_at_comes_from_the_clock_dependency(overrides):
    transport = httpx.ASGITransport(app=kata.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post("/items", json=WIDGET, headers=AUTH)
        assert r.status_code == 201, f"POST /items → {r.status_code}, expected 201"
        stamped = r.json()["created_at"]
        assert stamped == "2024-05-01T12:30:00Z", f"created_at {stamped}, expected the frozen clock"
        r = await client.get("/items/1")
    assert r.json()["created_at"] == stamped


@pytest.mark.task(5)
def test_the_real_clock_is_read_on_each_request_in_utc(client):
    del kata.app.dependency_overrides[kata.get_now]  # this test is about the real get_now
    before = datetime.now(timezone.utc)
    first = create(client)["created_at"]
    time.sleep(0.01)
    second = create(client)["created_at"]
    after = datetime.now(timezone.utc)
    assert first.endswith("Z") and second.endswith("Z"), f"not UTC: {first}, {second}"
    times = [datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in (first, second)]
    assert before <= times[0] < times[1] <= after, f"{first}, {second} not read at each request"
