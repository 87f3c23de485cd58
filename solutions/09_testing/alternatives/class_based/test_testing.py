"""The reference suite written as test classes: a task mark on each class, fixtures shared."""

import time
from datetime import datetime, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

AUTH = {"X-API-Key": "let-me-in"}
FROZEN_NOW = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
WIDGET = {"name": "Widget", "price": 2.5, "quantity": 3}
FRUIT = ["plum", "apple", "fig", "pear", "kiwi"]  # created in this order, which is not sorted


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
    r = client.post("/items", json=WIDGET | fields, headers=AUTH)
    assert r.status_code == 201, f"POST /items → {r.status_code} {r.text}, expected 201"
    return r.json()


def utc(stamp: str) -> datetime:
    """A `...Z` time stamp as an aware datetime (Python 3.10's fromisoformat reads no "Z")."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def assert_not_found(r: httpx.Response, item_id: int) -> None:
    assert r.status_code == 404, f"{r.request.method} {r.request.url.path} → {r.status_code}"
    assert r.json() == {"detail": f"Item {item_id} not found"}


@pytest.mark.task(1)
class TestStatusCodesAndBodies:
    def test_create_is_201_with_the_stored_item(self, client):
        r = client.post("/items", json=WIDGET, headers=AUTH)
        assert r.status_code == 201
        assert r.json() == WIDGET | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}

    def test_read_returns_the_item(self, client):
        item = create(client)
        r = client.get(f"/items/{item['id']}")
        assert r.status_code == 200
        assert r.json() == item

    def test_read_of_a_missing_item_is_404(self, client):
        assert_not_found(client.get("/items/999"), 999)

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
    def test_patch_changes_only_the_fields_sent(self, client, changes, changed):
        item = create(client)
        r = client.patch(f"/items/{item['id']}", json=changes, headers=AUTH)
        assert r.status_code == 200
        assert r.json() == item | changed
        assert client.get(f"/items/{item['id']}").json() == item | changed

    def test_patch_of_a_missing_item_is_404(self, client):
        assert_not_found(client.patch("/items/999", json={"quantity": 7}, headers=AUTH), 999)

    def test_delete_is_204_without_a_body_and_the_item_is_gone(self, client):
        item = create(client)
        r = client.delete(f"/items/{item['id']}", headers=AUTH)
        assert r.status_code == 204
        assert r.content == b""
        assert_not_found(client.get(f"/items/{item['id']}"), item["id"])

    def test_delete_of_a_missing_item_is_404(self, client):
        assert_not_found(client.delete("/items/999", headers=AUTH), 999)


@pytest.mark.task(2)
class TestValidation:
    @pytest.mark.parametrize(
        "body",
        [
            {"price": 2.5},
            {"name": "", "price": 2.5},
            {"name": "x" * 51, "price": 2.5},
            {"name": "Widget"},
            {"name": "Widget", "price": 0},
            {"name": "Widget", "price": -1},
            {"name": "Widget", "price": 2.5, "quantity": -1},
        ],
    )
    def test_a_bad_body_is_422_and_stores_nothing(self, client, body):
        assert client.post("/items", json=body, headers=AUTH).status_code == 422
        assert client.get("/items").json() == {"items": [], "total": 0}

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "x", "price": 2.5},
            {"name": "x" * 50, "price": 2.5},
            {"name": "Pin", "price": 0.01, "quantity": 0},
        ],
    )
    def test_values_on_the_bounds_are_accepted(self, client, body):
        r = client.post("/items", json=body, headers=AUTH)
        assert r.status_code == 201
        assert r.json() == {"quantity": 0} | body | {"id": 1, "created_at": "2024-05-01T12:30:00Z"}

    @pytest.mark.parametrize("changes", [{"price": 0}, {"price": -1}, {"quantity": -1}])
    def test_a_bad_change_is_422_and_changes_nothing(self, client, changes):
        item = create(client)
        assert client.patch("/items/1", json=changes, headers=AUTH).status_code == 422
        assert client.get("/items/1").json() == item

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1"])
    def test_paging_out_of_range_is_422(self, client, query):
        assert client.get(f"/items?{query}").status_code == 422

    @pytest.mark.parametrize("query", ["limit=1", "limit=100", "offset=0"])
    def test_paging_on_the_bounds_is_accepted(self, client, query):
        assert client.get(f"/items?{query}").status_code == 200


@pytest.mark.task(3)
class TestAuthentication:
    @pytest.mark.parametrize("headers", [{}, {"X-API-Key": "guess"}])
    @pytest.mark.parametrize(
        ("method", "url", "body"),
        [
            ("POST", "/items", WIDGET),
            ("PATCH", "/items/1", {"quantity": 0}),
            ("DELETE", "/items/1", None),
        ],
    )
    def test_a_change_without_a_valid_key_is_401_and_changes_nothing(
        self, client, method, url, body, headers
    ):
        before = create(client)
        r = client.request(method, url, json=body, headers=headers)
        assert r.status_code == 401
        assert r.headers.get("WWW-Authenticate") == "ApiKey"
        assert client.get("/items").json() == {"items": [before], "total": 1}

    @pytest.mark.parametrize("url", ["/items", "/items/1"])
    def test_reading_needs_no_key(self, client, url):
        create(client)
        assert client.get(url).status_code == 200


class TestPagination:
    pytestmark = pytest.mark.task(4)

    def test_an_empty_store_lists_an_empty_page(self, client):
        r = client.get("/items")
        assert (r.status_code, r.json()) == (200, {"items": [], "total": 0})

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
    def test_each_page_holds_the_right_items(self, client, query, names):
        for name in FRUIT:
            create(client, name=name)
        r = client.get(f"/items?{query}")
        assert r.status_code == 200
        assert [item["name"] for item in r.json()["items"]] == names
        assert r.json()["total"] == 5

    def test_the_default_page_holds_10(self, client):
        names = [f"item {n}" for n in range(12)]
        for name in names:
            create(client, name=name)
        page = client.get("/items").json()
        assert [item["name"] for item in page["items"]] == names[:10]
        assert page["total"] == 12


@pytest.mark.task(5)
class TestMailerAndClock:
    def test_create_mails_the_stock_team(self, client, mailer, monkeypatch):
        real_outbox: list[tuple[str, str]] = []
        monkeypatch.setattr(kata, "SENT_FOR_REAL", real_outbox)
        create(client, name="Gadget")
        assert mailer.sent == [("stock@example.com", "New item: Gadget")]
        assert real_outbox == []

    @pytest.mark.parametrize(
        ("body", "headers"),
        [
            ({"name": "Gadget", "price": -1}, AUTH),
            ({"name": "x" * 51, "price": 2.5}, AUTH),
            (WIDGET, {}),
            (WIDGET, {"X-API-Key": "guess"}),
        ],
    )
    def test_a_refused_create_sends_no_mail(self, client, mailer, body, headers):
        assert client.post("/items", json=body, headers=headers).status_code in (401, 422)
        assert mailer.sent == []

    @pytest.mark.asyncio
    async def test_created_at_comes_from_the_clock_dependency(self, overrides):
        transport = httpx.ASGITransport(app=kata.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post("/items", json=WIDGET, headers=AUTH)
        assert r.json()["created_at"] == "2024-05-01T12:30:00Z"

    def test_the_real_clock_is_read_on_each_request_in_utc(self, client):
        del kata.app.dependency_overrides[kata.get_now]
        before = datetime.now(timezone.utc)
        first = create(client)["created_at"]
        time.sleep(0.01)
        second = create(client)["created_at"]
        after = datetime.now(timezone.utc)
        assert first.endswith("Z") and second.endswith("Z")
        assert before <= utc(first) < utc(second) <= after
