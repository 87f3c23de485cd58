"""Kata 01 · First steps — what the books API must do. Run: nox -s first_steps"""

import pytest
from fastapi.testclient import TestClient

import app as kata

PUBLIC_FIELDS = ["author", "id", "title", "year"]

# The shelf as a client must see it: BOOKS in app.py without genre and supplier_price.
SHELF = {
    1: ("Dune", "Frank Herbert", 1965),
    2: ("Cosmos", "Carl Sagan", 1980),
    3: ("Neuromancer", "William Gibson", 1984),
    4: ("The Selfish Gene", "Richard Dawkins", 1976),
    5: ("SPQR", "Mary Beard", 2015),
    6: ("The Left Hand of Darkness", "Ursula K. Le Guin", 1969),
    7: ("A Brief History of Time", "Stephen Hawking", 1988),
    8: ("The Guns of August", "Barbara W. Tuchman", 1962),
    9: ("Foundation", "Isaac Asimov", 1951),
    10: ("The Double Helix", "James D. Watson", 1968),
    11: ("Kindred", "Octavia E. Butler", 1979),
    12: ("The Silk Roads", "Peter Frankopan", 2015),
}
GENRES = {
    "fiction": [1, 3, 6, 9, 11],
    "science": [2, 4, 7, 10],
    "history": [5, 8, 12],
}


def public(book_id):
    title, author, year = SHELF[book_id]
    return {"id": book_id, "title": title, "author": author, "year": year}


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


def error_locs(response):
    """The `loc` of every error in a FastAPI 422 body, or None when the body is not that shape."""
    try:
        return [error["loc"] for error in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return None


def listed_ids(response):
    """The ids of a 200 list of books, or None for any other answer."""
    if response.status_code != 200 or not isinstance(response.json(), list):
        return None
    return [book.get("id") if isinstance(book, dict) else book for book in response.json()]


def query(params):
    """`params` as a query string, and a test id: `genre=science&limit=1`."""
    if not isinstance(params, dict):
        return None  # pytest numbers the other parameters itself
    return "&".join(f"{key}={value}" for key, value in params.items())


# Task 1 — a path parameter declared with a type hint


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("book_id", "title"), [(3, "Neuromancer"), (1, "Dune"), (12, "The Silk Roads")]
)
def test_book_is_found_by_its_integer_id(client, book_id, title):
    response = client.get(f"/books/{book_id}")
    assert response.status_code == 200, (
        f"GET /books/{book_id} → {response.status_code}, expected 200"
    )
    body = response.json()
    got = body.get("title") if isinstance(body, dict) else body
    assert got == title, f"GET /books/{book_id} → {body}, expected the book titled {title}"


@pytest.mark.task(1)
@pytest.mark.parametrize("book_id", [999, 13])
def test_unknown_book_is_404_with_a_detail(client, book_id):
    response = client.get(f"/books/{book_id}")
    assert response.status_code == 404, (
        f"GET /books/{book_id} → {response.status_code}, expected 404"
    )
    assert response.json() == {"detail": "Book not found"}, (
        f"GET /books/{book_id} → {response.json()}, expected {{'detail': 'Book not found'}}"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("book_id", "why"),
    [
        ("abc", "book_id is declared int"),
        ("2.5", "book_id is declared int"),
        ("0", "book_id is 1 or more"),
        ("-1", "book_id is 1 or more"),
    ],
)
def test_id_that_is_not_an_integer_is_422_not_500(client, book_id, why):
    response = client.get(f"/books/{book_id}")
    assert response.status_code == 422, (
        f"GET /books/{book_id} → {response.status_code}, expected 422: {why}"
    )
    assert error_locs(response) == [["path", "book_id"]], (
        f"GET /books/{book_id} → {response.json()}, "
        "expected one error whose loc is ['path', 'book_id']"
    )


# Task 2 — query parameters with types, defaults and bounds


@pytest.mark.task(2)
def test_listing_without_a_limit_gives_the_first_10_books(client):
    response = client.get("/books")
    ids = listed_ids(response)
    assert ids == list(range(1, 11)), (
        f"GET /books → {response.status_code} ids {ids}, "
        "expected 200 with ids 1 to 10: limit defaults to 10, in id order"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("limit", "expected"),
    [(1, [1]), (2, [1, 2]), (11, list(range(1, 12))), (50, list(range(1, 13)))],
)
def test_limit_caps_the_number_of_books(client, limit, expected):
    response = client.get("/books", params={"limit": limit})
    ids = listed_ids(response)
    assert ids == expected, (
        f"GET /books?limit={limit} → {response.status_code} ids {ids}, expected 200 {expected}: "
        "the first `limit` books in id order (limit may be anything from 1 to 50)"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"genre": "science"}, GENRES["science"]),
        ({"genre": "history"}, GENRES["history"]),
        ({"genre": "fiction"}, GENRES["fiction"]),
        ({"genre": "science", "limit": 1}, [2]),
        ({"genre": "history", "limit": 2}, [5, 8]),
        ({"genre": "fiction", "limit": 50}, GENRES["fiction"]),
    ],
    ids=query,
)
def test_genre_filters_before_the_limit_cuts(client, params, expected):
    response = client.get("/books", params=params)
    ids = listed_ids(response)
    assert ids == expected, (
        f"GET /books?{query(params)} → {response.status_code} ids {ids}, expected 200 {expected}: "
        "keep the books of that genre first, then take the first `limit` of them"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("genre", ["poetry", "Science", ""], ids=["poetry", "Science", "empty"])
def test_a_genre_no_book_has_exactly_is_an_empty_list(client, genre):
    response = client.get(f"/books?genre={genre}")
    ids = listed_ids(response)
    assert ids == [], (
        f"GET /books?genre={genre} → {response.status_code} ids {ids}, expected 200 []: "
        "genre is compared exactly, case included, and no book has this one"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("limit", ["abc", "0", "-1", "51", "2.5"])
def test_limit_outside_1_to_50_is_422(client, limit):
    response = client.get("/books", params={"limit": limit})
    assert response.status_code == 422, (
        f"GET /books?limit={limit} → {response.status_code}, expected 422: limit is an int from 1 to 50"
    )
    assert error_locs(response) == [["query", "limit"]], (
        f"GET /books?limit={limit} → {response.json()}, "
        "expected one error whose loc is ['query', 'limit'] (declare the bounds, do not check by hand)"
    )


# Task 3 — a response model shapes the output


@pytest.mark.task(3)
@pytest.mark.parametrize("book_id", [1, 5])
def test_one_book_shows_only_public_fields(client, book_id):
    response = client.get(f"/books/{book_id}")
    assert response.status_code == 200, (
        f"GET /books/{book_id} → {response.status_code}, expected 200"
    )
    assert response.json() == public(book_id), (
        f"GET /books/{book_id} → {response.json()}, expected exactly {public(book_id)}"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("params", [{"limit": 50}, {"genre": "history"}], ids=query)
def test_listed_books_show_only_public_fields(client, params):
    response = client.get("/books", params=params)
    assert response.status_code == 200, (
        f"GET /books?{query(params)} → {response.status_code}, expected 200"
    )
    books = response.json()
    wrong = next((b for b in books if not isinstance(b, dict) or sorted(b) != PUBLIC_FIELDS), None)
    assert books and wrong is None, (
        f"GET /books?{query(params)} → a book {wrong}, expected exactly the fields {PUBLIC_FIELDS}"
    )
    expected = [public(book["id"]) for book in books if book.get("id") in SHELF]
    assert books == expected, (
        f"GET /books?{query(params)} → {books[:2]}…, expected each book as {expected[:2]}…"
    )


# Task 4 — the OpenAPI document describes the API


@pytest.mark.task(4)
def test_openapi_lists_the_operations_with_tags_and_summaries(client, openapi):
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
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower(), (
        f"GET /docs → {docs.status_code}, expected 200 with the Swagger UI page"
    )


@pytest.mark.task(4)
def test_openapi_declares_the_parameter_types_and_bounds(openapi):
    book = openapi["paths"].get("/books/{book_id}", {}).get("get", {})
    listing = openapi["paths"].get("/books", {}).get("get", {})
    params = {p["name"]: p for p in book.get("parameters", []) + listing.get("parameters", [])}

    book_id = params.get("book_id", {})
    wanted = {"in": "path", "required": True, "type": "integer", "minimum": 1}
    got = {
        "in": book_id.get("in"),
        "required": book_id.get("required"),
        "type": book_id.get("schema", {}).get("type"),
        "minimum": book_id.get("schema", {}).get("minimum"),
    }
    assert got == wanted, f"book_id is documented as {got}, expected {wanted}"

    limit = params.get("limit", {})
    wanted = {
        "in": "query",
        "required": False,
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "default": 10,
    }
    got = {"in": limit.get("in"), "required": limit.get("required", False)}
    got |= {
        key: limit.get("schema", {}).get(key) for key in ("type", "minimum", "maximum", "default")
    }
    assert got == wanted, f"limit is documented as {got}, expected {wanted}"

    genre = params.get("genre", {})
    got = {"in": genre.get("in"), "required": genre.get("required", False)}
    assert got == {"in": "query", "required": False}, (
        f"genre is documented as {got}, expected an optional query parameter"
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
    assert many is not None and many.get("type") == "array", (
        f"GET /books 200 schema is {many}, expected an array of BookOut"
    )
    assert many.get("items") == {"$ref": "#/components/schemas/BookOut"}, (
        f"GET /books 200 schema is {many}, expected an array of BookOut"
    )
    properties = (
        openapi.get("components", {}).get("schemas", {}).get("BookOut", {}).get("properties", {})
    )
    documented = {name: prop.get("type") for name, prop in properties.items()}
    wanted = {"id": "integer", "title": "string", "author": "string", "year": "integer"}
    assert documented == wanted, f"BookOut documents {documented}, expected {wanted}"
