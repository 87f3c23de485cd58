"""The engine kata's official tests: four over HTTP (verified), one white-box."""

import pytest
from fastapi.testclient import TestClient

import app as kata


@pytest.fixture
def client():
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.task(1)
def test_item_three_is_the_nib(client):
    response = client.get("/items/3")
    assert response.status_code == 200, f"GET /items/3 → {response.status_code}, expected 200"
    assert response.json() == {"id": 3, "name": "nib"}, f"GET /items/3 → {response.json()}"


@pytest.mark.task(1)
def test_an_unknown_item_is_404(client):
    response = client.get("/items/99")
    assert response.status_code == 404, f"GET /items/99 → {response.status_code}, expected 404"
    assert response.json() == {"detail": "Item not found"}, f"GET /items/99 → {response.json()}"


@pytest.mark.task(2)
def test_the_listing_holds_every_item(client):
    response = client.get("/items")
    assert response.status_code == 200, f"GET /items → {response.status_code}, expected 200"
    assert [item["name"] for item in response.json()] == ["pen", "ink", "nib"]


@pytest.mark.task(2)
@pytest.mark.parametrize("item_id", [1, 2])
def test_each_listed_item_reads_back(client, item_id):
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 200, f"GET /items/{item_id} → {response.status_code}"


@pytest.mark.task(3)
@pytest.mark.white_box
def test_the_model_has_an_id_and_a_name():
    assert sorted(kata.Item.model_fields) == ["id", "name"], "Item has id and name"
