"""Kata 01 · First steps — what the books API must do. Run: nox -s first_steps"""

import pytest
from fastapi.testclient import TestClient

import app as kata

PUBLIC_FIELDS = {"id", "title", "author", "year"}


@pytest.fixture
def client():
    # A server error comes back as a 500 response, as a real client would see it.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def openapi(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200, f"GET /openapi.json → {response.status_code}, expected 200"
    return response.json()


# Task 1 — a path parameter declared with a type hint


@pytest.mark.task(1)
def test_book_is_found_by_its_integer_id(client):
    response = client.get("/books/3")
    assert response.status_code == 200, f"GET /books/3 → {response.status_code}, expected 200"
    assert response.json().get("title") == "Neuromancer", (
        f"GET /books/3 → {response.json()}, expected the book titled Neuromancer"
    )


@pytest.mark.task(1)
def test_unknown_book_is_404_with_a_detail(client):
    response = client.get("/books/999")
    assert response.status_code == 404, f"GET /books/999 → {response.status_code}, expected 404"
    assert response.json() == {"detail": "Book not found"}, (
        f"GET /books/999 → {response.json()}, expected {{'detail': 'Book not found'}}"
    )


@pytest.mark.task(1)
def test_id_that_is_not_an_integer_is_422_not_500(client):
    response = client.get("/books/abc")
    assert response.status_code == 422, (
        f"GET /books/abc → {response.status_code}, expected 422: book_id is declared int"
    )
    error = response.json()["detail"][0]
    assert error["loc"] == ["path", "book_id"], (
        f"GET /books/abc → error at {error['loc']}, expected ['path', 'book_id']"
    )


# Task 2 — query parameters with types, defaults and bounds


@pytest.mark.task(2)
def test_listing_returns_every_book_by_default(client):
    response = client.get("/books")
    assert response.status_code == 200, f"GET /books → {response.status_code}, expected 200"
    ids = [book.get("id") for book in response.json()]
    assert ids == [1, 2, 3, 4], f"GET /books → ids {ids}, expected [1, 2, 3, 4]"


@pytest.mark.task(2)
def test_limit_caps_the_number_of_books(client):
    response = client.get("/books", params={"limit": 2})
    ids = [book.get("id") for book in response.json()] if response.status_code == 200 else None
    assert ids == [1, 2], f"GET /books?limit=2 → {response.status_code} {ids}, expected 200 [1, 2]"


@pytest.mark.task(2)
def test_genre_filters_the_books(client):
    response = client.get("/books", params={"genre": "science"})
    ids = [book.get("id") for book in response.json()] if response.status_code == 200 else None
    assert ids == [2, 4], (
        f"GET /books?genre=science → {response.status_code} {ids}, expected 200 [2, 4]"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("limit", [1, 50])
def test_limit_accepts_1_and_50(client, limit):
    response = client.get("/books", params={"limit": limit})
    count = len(response.json()) if response.status_code == 200 else None
    assert count == min(limit, 4), (
        f"GET /books?limit={limit} → {response.status_code} with {count} books, "
        f"expected 200 with {min(limit, 4)}: limit may be anything from 1 to 50"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("limit", ["abc", "0", "51", "2.5"])
def test_limit_outside_1_to_50_is_422(client, limit):
    response = client.get("/books", params={"limit": limit})
    assert response.status_code == 422, (
        f"GET /books?limit={limit} → {response.status_code}, expected 422: limit is an int from 1 to 50"
    )
    assert response.json()["detail"][0]["loc"] == ["query", "limit"], (
        f"GET /books?limit={limit} → error at {response.json()['detail'][0]['loc']}, "
        "expected ['query', 'limit']"
    )


# Task 3 — a response model shapes the output


@pytest.mark.task(3)
def test_one_book_shows_only_public_fields(client):
    response = client.get("/books/1")
    fields = sorted(response.json()) if response.status_code == 200 else None
    assert fields == sorted(PUBLIC_FIELDS), (
        f"GET /books/1 → fields {fields}, expected exactly {sorted(PUBLIC_FIELDS)}"
    )


@pytest.mark.task(3)
def test_listed_books_show_only_public_fields(client):
    response = client.get("/books")
    fields = [sorted(book) for book in response.json()] if response.status_code == 200 else None
    wrong = next((f for f in fields or [None] if f != sorted(PUBLIC_FIELDS)), None)
    assert fields and wrong is None, (
        f"GET /books → a book with fields {wrong}, expected exactly {sorted(PUBLIC_FIELDS)} for every book"
    )


@pytest.mark.task(3)
@pytest.mark.white_box
def test_book_out_declares_the_public_fields():
    fields = sorted(kata.BookOut.model_fields)
    assert fields == sorted(PUBLIC_FIELDS), (
        f"BookOut fields are {fields}, expected {sorted(PUBLIC_FIELDS)}"
    )


# Task 4 — the OpenAPI document describes the API


@pytest.mark.task(4)
def test_openapi_lists_the_operations_with_tags_and_summaries(openapi):
    operations = {
        "/books": "List books",
        "/books/{book_id}": "Get one book",
    }
    for path, summary in operations.items():
        operation = openapi["paths"].get(path, {}).get("get")
        assert operation is not None, f"/openapi.json has no GET {path}"
        assert operation.get("tags") == ["books"], (
            f"GET {path} has tags {operation.get('tags')}, expected ['books']"
        )
        assert operation.get("summary") == summary, (
            f"GET {path} has summary {operation.get('summary')!r}, expected {summary!r}"
        )


@pytest.mark.task(4)
def test_openapi_declares_the_parameter_types(openapi):
    book = openapi["paths"].get("/books/{book_id}", {}).get("get", {})
    listing = openapi["paths"].get("/books", {}).get("get", {})
    params = {p["name"]: p for p in book.get("parameters", []) + listing.get("parameters", [])}
    assert params.get("book_id", {}).get("schema", {}).get("type") == "integer", (
        f"book_id is documented as {params.get('book_id')}, expected an integer path parameter"
    )
    limit = params.get("limit", {}).get("schema", {})
    wanted = {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}
    got = {key: limit.get(key) for key in wanted}
    assert got == wanted, f"limit is documented as {got}, expected {wanted}"
    assert "genre" in params and not params["genre"].get("required", False), (
        "genre should be documented as an optional query parameter"
    )


@pytest.mark.task(4)
def test_openapi_response_schemas_use_book_out(openapi):
    def schema(path):
        responses = openapi["paths"].get(path, {}).get("get", {}).get("responses", {})
        return responses.get("200", {}).get("content", {}).get("application/json", {}).get("schema")

    one, many = schema("/books/{book_id}"), schema("/books")
    assert one == {"$ref": "#/components/schemas/BookOut"}, (
        f"GET /books/{{book_id}} 200 schema is {one}, expected a reference to BookOut"
    )
    assert many is not None and many.get("items") == {"$ref": "#/components/schemas/BookOut"}, (
        f"GET /books 200 schema is {many}, expected an array of BookOut"
    )
    documented = sorted(openapi["components"]["schemas"]["BookOut"]["properties"])
    assert documented == sorted(PUBLIC_FIELDS), (
        f"BookOut documents {documented}, expected {sorted(PUBLIC_FIELDS)}"
    )


@pytest.mark.task(4)
def test_interactive_docs_are_served(client):
    response = client.get("/docs")
    assert response.status_code == 200, f"GET /docs → {response.status_code}, expected 200"
    assert "swagger" in response.text.lower(), "GET /docs should serve the Swagger UI page"
