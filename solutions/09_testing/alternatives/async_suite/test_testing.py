"""The reference suite as async tests: httpx.AsyncClient over ASGITransport, pytest-asyncio."""

import asyncio
from datetime import datetime, timezone

import httpx
import pytest
import pytest_asyncio

import app as kata

AUTH = {"X-API-Key": "let-me-in"}
FROZEN_NOW = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
WIDGET = {"name": "Widget", "price": 2.5, "quantity": 3}
FRUIT = ["plum", "apple", "fig", "pear", "kiwi"]  # created in this order, which is not sorted

pytestmark = pytest.mark.asyncio


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, subject: str) -> None:
        self.sent.append((to, subject))


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def overrides(mailer):
    store = kata.ItemStore()
    kata.app.dependency_overrides[kata.get_store] = lambda: store
    kata.app.dependency_overrides[kata.get_mailer] = lambda: mailer
    kata.app.dependency_overrides[kata.get_now] = lambda: FROZEN_NOW
    yield
    kata.app.dependency_overrides.clear()


@pytest_asyncio.fixture
async def client(overrides):
    transport = httpx.ASGITransport(app=kata.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def create(client: httpx.AsyncClient, **fields) -> dict:
    r = await client.post("/items", json=WIDGET | fields, headers=AUTH)
    assert r.status_code == 201, f"POST /items → {r.status_code} {r.text}, expected 201"
    return r.json()


def utc(stamp: str) -> datetime:
    """A `...Z` time stamp as an aware datetime (Python 3.10's fromisoformat reads no "Z")."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def assert_not_found(r: httpx.Response, item_id: int) -> None:
    assert r.status_code == 404, f"{r.request.method} {r.request.url.path} → {r.status_code}"
    assert r.json() == {"detail": f"Item {item_id} not found"}


# Task 1


@pytest.mark.task(1)
async def test_create_returns_201_with_the_stored_item(client):
    r = await client.post("/items", json=WIDGET, headers=AUTH)
    assert r.status_code == 201
    assert r.json() == WIDGET | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}


@pytest.mark.task(1)
async def test_read_returns_the_item_and_404_when_missing(client):
    item = await create(client)
    r = await client.get("/items/1")
    assert (r.status_code, r.json()) == (200, item)
    assert_not_found(await client.get("/items/999"), 999)


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
)
async def test_patch_changes_only_the_fields_sent(client, changes, changed):
    item = await create(client)
    r = await client.patch("/items/1", json=changes, headers=AUTH)
    assert (r.status_code, r.json()) == (200, item | changed)
    assert (await client.get("/items/1")).json() == item | changed


@pytest.mark.task(1)
async def test_patch_and_delete_of_a_missing_item_are_404(client):
    assert_not_found(await client.patch("/items/999", json={"quantity": 7}, headers=AUTH), 999)
    assert_not_found(await client.delete("/items/999", headers=AUTH), 999)


@pytest.mark.task(1)
async def test_delete_returns_204_and_the_item_is_gone(client):
    await create(client)
    r = await client.delete("/items/1", headers=AUTH)
    assert (r.status_code, r.content) == (204, b"")
    assert_not_found(await client.get("/items/1"), 1)


# Task 2


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "body",
    [
        {"price": 2.5},
        {"name": "", "price": 2.5},
        {"name": "x" * 51, "price": 2.5},
        {"name": "Widget"},
        {"name": "Widget", "price": 0},
        {"name": "Widget", "price": 2.5, "quantity": -1},
    ],
)
async def test_create_rejects_a_bad_body_with_422(client, body):
    assert (await client.post("/items", json=body, headers=AUTH)).status_code == 422
    assert (await client.get("/items")).json() == {"items": [], "total": 0}


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "body",
    [{"name": "x", "price": 2.5}, {"name": "x" * 50, "price": 2.5, "quantity": 0}],
)
async def test_create_accepts_values_on_the_bounds(client, body):
    r = await client.post("/items", json=body, headers=AUTH)
    assert r.status_code == 201
    assert r.json() == {"quantity": 0} | body | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}


@pytest.mark.task(2)
@pytest.mark.parametrize("changes", [{"price": 0}, {"quantity": -1}])
async def test_update_rejects_bad_changes_with_422(client, changes):
    item = await create(client)
    assert (await client.patch("/items/1", json=changes, headers=AUTH)).status_code == 422
    assert (await client.get("/items/1")).json() == item


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=0", 422),
        ("limit=1", 200),
        ("limit=100", 200),
        ("limit=101", 422),
        ("offset=-1", 422),
        ("offset=0", 200),
    ],
)
async def test_paging_parameters_have_bounds(client, query, status):
    assert (await client.get(f"/items?{query}")).status_code == status


# Task 3


@pytest.mark.task(3)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "guess"}])
@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/items", WIDGET),
        ("PATCH", "/items/1", {"quantity": 0}),
        ("DELETE", "/items/1", None),
    ],
)
async def test_changes_without_a_valid_key_are_401_and_change_nothing(
    client, method, url, body, headers
):
    before = await create(client)
    r = await client.request(method, url, json=body, headers=headers)
    assert r.status_code == 401
    assert r.headers.get("WWW-Authenticate") == "ApiKey"
    assert (await client.get("/items")).json() == {"items": [before], "total": 1}


@pytest.mark.task(3)
async def test_reading_needs_no_key(client):
    await create(client)
    assert (await client.get("/items")).status_code == 200
    assert (await client.get("/items/1")).status_code == 200


# Task 4


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("limit=2", ["plum", "apple"]),
        ("limit=2&offset=2", ["fig", "pear"]),
        ("limit=2&offset=4", ["kiwi"]),
        ("limit=2&offset=5", []),
        ("offset=9", []),
        ("offset=1", FRUIT[1:]),
    ],
)
async def test_pages_cut_the_collection_at_limit_and_offset(client, query, names):
    for name in FRUIT:
        await create(client, name=name)
    r = await client.get(f"/items?{query}")
    assert r.status_code == 200
    assert [item["name"] for item in r.json()["items"]] == names
    assert r.json()["total"] == 5


@pytest.mark.task(4)
async def test_default_page_size_is_10(client):
    names = [f"item {n}" for n in range(12)]
    for name in names:
        await create(client, name=name)
    page = (await client.get("/items")).json()
    assert [item["name"] for item in page["items"]] == names[:10]
    assert page["total"] == 12


# Task 5


@pytest.mark.task(5)
async def test_create_mails_the_stock_team(client, mailer, monkeypatch):
    real_outbox: list[tuple[str, str]] = []
    monkeypatch.setattr(kata, "SENT_FOR_REAL", real_outbox)
    await create(client, name="Gadget")
    assert mailer.sent == [("stock@example.com", "New item: Gadget")]
    assert real_outbox == []


@pytest.mark.task(5)
async def test_a_refused_create_sends_no_mail(client, mailer):
    await client.post("/items", json={"name": "x" * 51, "price": 2.5}, headers=AUTH)
    await client.post("/items", json=WIDGET)
    await client.post("/items", json=WIDGET, headers={"X-API-Key": "guess"})
    assert mailer.sent == []


@pytest.mark.task(5)
async def test_created_at_comes_from_the_clock_dependency(client):
    assert (await create(client))["created_at"] == "2024-05-01T12:30:00Z"


@pytest.mark.task(5)
async def test_the_real_clock_is_read_on_each_request_in_utc(client):
    del kata.app.dependency_overrides[kata.get_now]
    before = datetime.now(timezone.utc)
    first = (await create(client))["created_at"]
    await asyncio.sleep(0.01)
    second = (await create(client))["created_at"]
    after = datetime.now(timezone.utc)
    assert first.endswith("Z") and second.endswith("Z")
    assert before <= utc(first) < utc(second) <= after
