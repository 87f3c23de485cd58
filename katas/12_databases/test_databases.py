"""Kata 12 · Databases — what the library API must do. Run: nox -s databases"""

import gc
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import models
import pytest
import schemas
from fastapi.testclient import TestClient

import app as kata
import settings

HERE = Path(__file__).resolve().parent
# SQLAlchemy and Alembic are imported inside the white-box tests, which run beside the kata's
# modules: the verified tests, in the trusted process, only need HTTP and sqlite3.

# The tables as the tests create them (task 7's migrations must build the same ones).
SCHEMA = """
CREATE TABLE authors (
    id    INTEGER NOT NULL PRIMARY KEY,
    name  VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL UNIQUE
);
CREATE TABLE books (
    id        INTEGER NOT NULL PRIMARY KEY,
    title     VARCHAR(200) NOT NULL,
    year      INTEGER NOT NULL,
    isbn      VARCHAR(13) UNIQUE,
    author_id INTEGER NOT NULL REFERENCES authors (id)
);
"""

URSULA = (1, "Ursula K. Le Guin", "ursula@example.com")
FRANK = (2, "Frank Herbert", "frank@example.com")
OCTAVIA = (3, "Octavia E. Butler", "octavia@example.com")
DUNE = {"title": "Dune", "year": 1965, "isbn": "9780441013593", "author_id": 2}


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An SQLite file with the tables and nothing in them; the app is told to use it."""
    path = tmp_path / "library.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)
    monkeypatch.setenv("LIBRARY_DATABASE_URL", f"sqlite:///{path}")
    return path


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    # A server error comes back as a 500 response, as a real client would see it.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def in_process() -> Iterator[None]:
    """For a white-box test, which runs beside the kata's modules rather than in a fresh app
    process: when importing them is slow, the grader imports them once for all such tests, so
    the settings an earlier test read are forgotten before and after this one."""
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()


def seed(path: Path, authors=(), books=()) -> None:
    """Rows written straight into the file, behind the app's back: (id, name, email) and
    (id, title, year, isbn, author_id)."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany("INSERT INTO authors (id, name, email) VALUES (?, ?, ?)", authors)
        conn.executemany(
            "INSERT INTO books (id, title, year, isbn, author_id) VALUES (?, ?, ?, ?, ?)", books
        )


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def body_of(r):
    """The JSON body of `r`, or its text when it is not JSON (a crash's 500, say)."""
    try:
        return r.json()
    except ValueError:
        return r.text


def write_lock_is_free(path: Path) -> bool:
    """Whether a writer could start now: False while someone holds an open write transaction."""
    with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked"
            return False
        conn.execute("ROLLBACK")
        return True


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Hold a read transaction open on `path`: until it ends, no one can commit a write."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM authors").fetchone()  # takes SQLite's SHARED lock
        try:
            yield
        finally:
            conn.execute("COMMIT")


def book(book_id, title, year, author_id, isbn=None):
    """A row for `seed`, with an ISBN made from the id unless one is given."""
    return (book_id, title, year, isbn or f"97800000{book_id:05d}", author_id)


# Task 1 — Schemas apart from the tables


def properties(openapi, name):
    schema = openapi["components"]["schemas"].get(name, {})
    return schema.get("properties", {}), sorted(schema.get("required", []))


@pytest.mark.task(1)
def test_openapi_shows_each_schema_with_its_fields_and_rules(client):
    openapi = client.get("/openapi.json").json()
    expected = {
        "AuthorCreate": ["email", "name"],
        "AuthorOut": ["id", "name"],
        "AuthorWithBooks": ["books", "id", "name"],
        "BookCreate": ["author_id", "isbn", "title", "year"],
        "BookOut": ["author_id", "id", "isbn", "title", "year"],
        "BookPage": ["items", "limit", "offset", "total"],
    }
    for name, fields in expected.items():
        props, required = properties(openapi, name)
        assert sorted(props) == fields, (
            f"/openapi.json: {name} has the fields {sorted(props)}, expected {fields}"
        )
        assert required == fields, f"{name} requires {required}, expected every field {fields}"
    rules = {
        ("AuthorCreate", "name"): {"minLength": 1, "maxLength": 100},
        ("AuthorCreate", "email"): {"maxLength": 200},
        ("BookCreate", "title"): {"minLength": 1, "maxLength": 200},
        ("BookCreate", "year"): {"minimum": 1450, "maximum": 2100},
    }
    for (name, field), wanted in rules.items():
        prop = properties(openapi, name)[0].get(field, {})
        got = {key: prop.get(key) for key in wanted}
        assert got == wanted, f"/openapi.json: {name}.{field} has {got}, expected {wanted}"
    isbn = properties(openapi, "BookOut")[0].get("isbn", {})
    assert {"type": "null"} in isbn.get("anyOf", []), (
        f"/openapi.json: BookOut.isbn is {isbn}, expected a string or null (old books have none)"
    )


AUTHOR = {"name": "Ursula K. Le Guin", "email": "ursula@example.com"}
BOOK = {"title": "The Dispossessed", "year": 1974, "isbn": "9780061054884", "author_id": 1}


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/authors", {**AUTHOR, "name": ""}, ["body", "name"]),
        ("/authors", {**AUTHOR, "name": "x" * 101}, ["body", "name"]),
        ("/authors", {"email": AUTHOR["email"]}, ["body", "name"]),
        ("/authors", {**AUTHOR, "email": "ursula.example.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula le guin@example.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula\t@example.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula@exam\nple.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula@example.com\n"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula\u00a0le\u00a0guin@example.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "ursula@home@example.com"}, ["body", "email"]),
        ("/authors", {**AUTHOR, "email": "u@" + "e" * 199}, ["body", "email"]),
        ("/books", {**BOOK, "title": ""}, ["body", "title"]),
        ("/books", {**BOOK, "title": "x" * 201}, ["body", "title"]),
        ("/books", {**BOOK, "year": 1449}, ["body", "year"]),
        ("/books", {**BOOK, "year": 2101}, ["body", "year"]),
        ("/books", {**BOOK, "isbn": "978006105488"}, ["body", "isbn"]),
        ("/books", {**BOOK, "isbn": "97800610548845"}, ["body", "isbn"]),
        ("/books", {**BOOK, "isbn": "978-0061054884"}, ["body", "isbn"]),
        ("/books", {**BOOK, "author_id": "ursula"}, ["body", "author_id"]),
        ("/books/import", [BOOK, {**BOOK, "isbn": None}], ["body", 1, "isbn"]),
    ],
    ids=[
        "empty-name", "101-char-name", "no-name", "email-without-@", "email-with-spaces",
        "email-with-a-tab", "email-with-a-newline", "email-ending-in-a-newline",
        "email-with-no-break-spaces",
        "email-with-two-@", "201-char-email", "empty-title", "201-char-title", "year-1449",
        "year-2101", "12-digit-isbn", "14-digit-isbn", "isbn-with-a-dash", "author_id-not-int",
        "import-with-a-bad-book",
    ],
)  # fmt: skip
def test_a_body_outside_the_rules_is_422(client, path, body, loc):
    r = client.post(path, json=body)
    assert r.status_code == 422, f"POST {path} {str(body)[:70]} → {r.status_code}, expected 422"
    locations = [error.get("loc") for error in r.json()["detail"]]
    assert loc in locations, f"POST {path} → errors at {locations}, expected one at {loc}"


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/authors", {"name": "x" * 100, "email": "ursula"}, ["body", "email"]),
        ("/authors", {"name": "x", "email": "ursula"}, ["body", "email"]),
        ("/authors", {"name": "", "email": "u@" + "e" * 198}, ["body", "name"]),
        ("/books", {**BOOK, "title": "x", "year": 1450, "author_id": "u"}, ["body", "author_id"]),
        ("/books", {**BOOK, "title": "x" * 200, "year": 2100, "isbn": "0000000000000", "author_id": "u"}, ["body", "author_id"]),
    ],
    ids=["100-char-name", "1-char-name", "200-char-email", "1-char-title-year-1450", "200-char-title-year-2100"],
)  # fmt: skip
def test_values_on_the_bounds_are_accepted(client, path, body, loc):
    # The body breaks one other rule, so the 422 lists every field that failed, and no other.
    r = client.post(path, json=body)
    locations = [e.get("loc") for e in r.json().get("detail", [])] if r.status_code == 422 else []
    assert locations == [loc], (
        f"POST {path} {str(body)[:70]} → {r.status_code}, errors at {locations}, expected one "
        f"error, at {loc}: the other fields are on their bounds, which are allowed"
    )


@pytest.mark.task(1)
@pytest.mark.white_box  # from_attributes is a setting of the schema classes themselves
def test_output_schemas_read_the_attributes_of_orm_objects():
    author = models.Author(id=1, name="Ursula K. Le Guin", email="ursula@example.com")
    dispossessed = models.Book(
        id=7, title="The Dispossessed", year=1974, isbn="9780061054884", author_id=1
    )
    got = schemas.AuthorOut.model_validate(author).model_dump()
    assert got == {"id": 1, "name": "Ursula K. Le Guin"}, (
        f"AuthorOut.model_validate(an Author) → {got}, expected its id and name, no email"
    )
    got = schemas.BookOut.model_validate(dispossessed).model_dump()
    expected = {
        "id": 7, "title": "The Dispossessed", "year": 1974, "isbn": "9780061054884",
        "author_id": 1,
    }  # fmt: skip
    assert got == expected, f"BookOut.model_validate(a Book) → {got}, expected {expected}"


# Task 2 — One engine, from the settings, made at startup


@pytest.mark.task(2)
def test_the_app_reads_the_file_the_environment_names(client, database):
    seed(database, authors=[URSULA])
    r = client.get("/authors/1")
    assert r.status_code == 200, (
        f"GET /authors/1 → {r.status_code} {body_of(r)}, expected 200: author 1 is in the file "
        "LIBRARY_DATABASE_URL names, set before the app started"
    )
    r = client.get("/authors/2")
    assert (r.status_code, body_of(r)) == (404, {"detail": "Author not found"}), (
        f"GET /authors/2 → {r.status_code} {body_of(r)}, expected 404 Author not found"
    )


@pytest.mark.task(2)
def test_without_the_variable_the_app_uses_library_db_in_its_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LIBRARY_DATABASE_URL", raising=False)
    folder = tmp_path / "run"
    folder.mkdir()
    with closing(sqlite3.connect(folder / "library.db")) as conn:
        conn.executescript(SCHEMA)
    seed(folder / "library.db", authors=[OCTAVIA])
    monkeypatch.chdir(folder)
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = client.get("/authors/3")
    assert r.status_code == 200, (
        f"GET /authors/3 → {r.status_code} {body_of(r)}, expected 200: without "
        "LIBRARY_DATABASE_URL the app uses sqlite:///library.db, in the folder it runs in"
    )


@pytest.mark.task(2)
@pytest.mark.white_box  # engines and pooled connections are only seen inside the app's process
def test_one_engine_serves_every_request_and_is_disposed_of_at_shutdown(database, in_process):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    seed(database, authors=[URSULA])
    engines = []
    pool = {"connect": 0, "close": 0}

    def on_statement(conn, *args):
        engines.append(conn.engine)

    def count(name):
        return lambda *args: pool.__setitem__(name, pool[name] + 1)

    listeners = [(Engine, "before_cursor_execute", on_statement)]
    listeners += [(Pool, name, count(name)) for name in pool]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        with TestClient(kata.app, raise_server_exceptions=False) as client:
            statuses = [client.get("/authors/1").status_code for _ in range(5)]
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    assert statuses == [200] * 5, f"5 × GET /authors/1 → {statuses}, expected 200 each time"
    assert len({id(engine) for engine in engines}) == 1, (
        f"5 requests ran their SQL on {len({id(e) for e in engines})} engines, expected one: "
        "create the engine once, in the lifespan, not per request"
    )
    assert pool["close"] == pool["connect"], (
        f"the pool opened {pool['connect']} connections and closed {pool['close']} by the end "
        "of the shutdown, expected all of them: dispose of the engine when the lifespan ends"
    )


# Task 3 — A session per request


@pytest.mark.task(3)
def test_what_a_201_reports_is_in_the_file_already(client, database):
    r = client.post("/authors", json=AUTHOR)
    assert r.status_code == 201, f"POST /authors → {r.status_code} {body_of(r)}, expected 201"
    assert body_of(r) == {"id": 1, "name": "Ursula K. Le Guin"}, (
        f"POST /authors → {body_of(r)}, expected {{'id': 1, 'name': 'Ursula K. Le Guin'}} "
        "(the email is stored, never shown)"
    )
    stored = rows(database, "SELECT id, name, email FROM authors")
    assert stored == [(1, AUTHOR["name"], AUTHOR["email"])], (
        f"authors in the file after the 201 → {stored}, expected the new author: commit before "
        "the response is sent"
    )
    r = client.post("/books", json=BOOK)
    assert (r.status_code, body_of(r)) == (201, {"id": 1, **BOOK}), (
        f"POST /books → {r.status_code} {body_of(r)}, expected 201 {{'id': 1, **BOOK}}"
    )
    stored = rows(database, "SELECT id, title, year, isbn, author_id FROM books")
    assert stored == [(1, *BOOK.values())], f"books in the file after the 201 → {stored}"
    r = client.post("/books", json={**DUNE, "author_id": 99})
    assert (r.status_code, body_of(r)) == (404, {"detail": "Author not found"}), (
        f"POST /books for author 99 → {r.status_code} {body_of(r)}, expected 404 Author not found"
    )
    assert len(rows(database, "SELECT id FROM books")) == 1, "the 404 added a book"


@pytest.mark.task(3)
def test_an_import_saves_every_book_in_the_order_sent(client, database):
    seed(database, authors=[URSULA, FRANK])
    batch = [
        DUNE,
        BOOK,
        {**BOOK, "title": "Always Coming Home", "year": 1985, "isbn": "9780060150396"},
    ]
    r = client.post("/books/import", json=batch)
    expected = [{"id": n, **b} for n, b in enumerate(batch, start=1)]
    assert (r.status_code, body_of(r)) == (201, expected), (
        f"POST /books/import of 3 books → {r.status_code} {body_of(r)}, expected 201 {expected}"
    )
    stored = rows(database, "SELECT id, title FROM books ORDER BY id")
    assert stored == [(n, b["title"]) for n, b in enumerate(batch, start=1)], (
        f"books in the file after the import → {stored}, expected all three"
    )


@pytest.mark.task(3)
def test_an_import_that_fails_part_way_saves_none_of_it(client, database):
    seed(database, authors=[URSULA])
    batch = [
        BOOK,
        {**BOOK, "title": "The Left Hand of Darkness", "year": 1969, "isbn": "9780441478125"},
        {**DUNE, "author_id": 99},  # no such author: the import fails after two good books
    ]
    r = client.post("/books/import", json=batch)
    assert (r.status_code, body_of(r)) == (404, {"detail": "Author not found"}), (
        f"POST /books/import with an unknown author last → {r.status_code} {body_of(r)}, "
        "expected 404 Author not found"
    )
    stored = rows(database, "SELECT title FROM books")
    assert stored == [], (
        f"books in the file after the failed import → {stored}, expected none: the request "
        "failed, so its session must roll back, not commit"
    )
    assert write_lock_is_free(database), (
        "after the failed import the database is still locked for writing: the session kept "
        "its transaction open (roll it back and close it when the request fails)"
    )
    r = client.post("/books", json=BOOK)
    assert r.status_code == 201, (
        f"POST /books after the failed import → {r.status_code} {body_of(r)}, expected 201"
    )
    stored = rows(database, "SELECT title FROM books")
    assert stored == [("The Dispossessed",)], f"books after one more POST → {stored}"


@pytest.mark.task(3)
def test_a_commit_that_fails_is_a_500_and_saves_nothing(database, monkeypatch):
    # A busy timeout of 0.2 s: while the test reads, the app's commit waits that long, then fails.
    monkeypatch.setenv("LIBRARY_DATABASE_URL", f"sqlite:///{database}?timeout=0.2")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        with reading(database):
            r = client.post("/authors", json=AUTHOR)
        assert r.status_code == 500, (
            f"POST /authors while the database cannot commit → {r.status_code} {body_of(r)}, "
            "expected 500: the commit failed, so the client must not be told 201 (commit "
            "before the response is sent: Depends(..., scope='function'))"
        )
        stored = rows(database, "SELECT name FROM authors")
        assert stored == [], f"authors after the failed commit → {stored}, expected none"
        assert write_lock_is_free(database), (
            "after the failed commit the database is still locked for writing: roll the "
            "session back when the commit fails, and close it"
        )
        r = client.post("/authors", json=AUTHOR)
        assert r.status_code == 201, (
            f"POST /authors once the database is free → {r.status_code} {body_of(r)}, expected 201"
        )


@pytest.mark.task(3)
def test_each_request_sees_the_file_as_it_is_now(client, database):
    seed(database, authors=[URSULA])
    first = client.get("/authors/1")
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE authors SET name = 'Ursula Kroeber Le Guin' WHERE id = 1")
    second = client.get("/authors/1")
    names = [
        body_of(r).get("name") if r.status_code == 200 else r.status_code for r in (first, second)
    ]
    assert names == ["Ursula K. Le Guin", "Ursula Kroeber Le Guin"], (
        f"GET /authors/1, a rename in the file, GET /authors/1 → {names}, expected the new name "
        "the second time: each request needs a session of its own, not one kept between requests"
    )


@pytest.mark.task(3)
@pytest.mark.white_box  # the pool's checkouts and checkins are only seen inside the app's process
def test_every_request_gives_its_connection_back(database, in_process):
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    seed(database, authors=[URSULA], books=[book(1, "The Dispossessed", 1974, 1)])
    pool = {"checkout": 0, "checkin": 0}

    def count(name):
        return lambda *args: pool.__setitem__(name, pool[name] + 1)

    listeners = [(name, count(name)) for name in pool]
    for name, listener in listeners:
        event.listen(Pool, name, listener)
    requests = [
        ("GET", "/authors/1", None),
        ("GET", "/authors/9", None),
        ("POST", "/authors", {"name": "Frank Herbert", "email": "frank@example.com"}),
        ("POST", "/books", {**DUNE, "author_id": 2}),
        ("POST", "/books/import", [{**DUNE, "isbn": "9780441172719", "author_id": 9}]),
        ("POST", "/authors", {"name": "Frank", "email": "frank@example.com"}),
    ]
    # Paused, the garbage collector cannot give back the connection of a session left open.
    gc.disable()
    try:
        with TestClient(kata.app, raise_server_exceptions=False) as client:
            for method, path, body in requests:
                r = client.request(method, path, json=body)
                assert pool["checkout"] == pool["checkin"], (
                    f"after {method} {path} → {r.status_code}, the pool lent "
                    f"{pool['checkout']} connections and got {pool['checkin']} back: close "
                    "each request's session (in a finally, or with a `with` block)"
                )
    finally:
        gc.enable()
        for name, listener in listeners:
            event.remove(Pool, name, listener)
    assert pool["checkout"] >= len(requests) - 1, f"only {pool['checkout']} checkouts"


@pytest.mark.task(3)
@pytest.mark.white_box  # sessions are objects inside the app's process
def test_each_request_gets_a_new_session_closed_when_it_ends(database, in_process, monkeypatch):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    seed(database, authors=[URSULA])
    begun: list[Session] = []  # every session that began a transaction, in order
    closed: list[Session] = []
    close = Session.close

    def recording_close(self: Session) -> None:
        closed.append(self)
        close(self)

    def record_begin(session, transaction, connection):
        begun.append(session)

    monkeypatch.setattr(Session, "close", recording_close)
    event.listen(Session, "after_begin", record_begin)
    requests = [
        ("GET", "/authors/1", None),
        ("POST", "/authors", {"name": "Frank Herbert", "email": "frank@example.com"}),
        ("GET", "/authors", None),
        ("POST", "/authors", {"name": "Frank", "email": "frank@example.com"}),  # a 409
        ("GET", "/authors/9", None),  # a 404
        ("GET", "/books", None),
    ]
    seen: list[Session] = []  # kept, so that no two sessions can share an id()
    try:
        with TestClient(kata.app, raise_server_exceptions=False) as client:
            for method, path, body in requests:
                begun.clear()
                r = client.request(method, path, json=body)
                request = f"{method} {path} → {r.status_code}"
                sessions = list({id(session): session for session in begun}.values())
                assert len(sessions) == 1, (
                    f"{request} ran its SQL in {len(sessions)} sessions, expected one"
                )
                (session,) = sessions
                assert all(session is not earlier for earlier in seen), (
                    f"{request} used the session an earlier request had: each request needs a "
                    "new session from the factory, not one shared by the app"
                )
                assert any(session is done for done in closed), (
                    f"{request}: its session was not closed when the request ended: close it "
                    "in every case, success or failure (in a finally, or a `with` block)"
                )
                seen.append(session)
    finally:
        event.remove(Session, "after_begin", record_begin)


# Task 4 — Authors with their books, in two queries


@pytest.mark.task(4)
def test_authors_come_by_name_with_their_books_newest_first(client, database):
    # With this index SQLite answers ORDER BY name with the ties highest id first: only an
    # ORDER BY that ends on the id gives the two Frank Herberts in the README's order.
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("CREATE INDEX ix_authors_name_id_desc ON authors (name, id DESC)")
    seed(
        database,
        authors=[URSULA, FRANK, OCTAVIA, (4, "Frank Herbert", "frank.too@example.com")],
        books=[
            book(1, "The Left Hand of Darkness", 1969, 1),
            book(2, "Dune", 1965, 2),
            book(3, "The Dispossessed", 1974, 1),
            book(4, "The Lathe of Heaven", 1971, 1),
            book(5, "A Wizard of Earthsea", 1968, 1),
            book(6, "The Tombs of Atuan", 1971, 1),
            book(7, "Destination: Void", 1966, 4),
        ],
    )
    r = client.get("/authors")
    assert r.status_code == 200, f"GET /authors → {r.status_code} {body_of(r)}, expected 200"

    def out(book_id, title, year, author_id):
        return {"id": book_id, "title": title, "year": year,
                "isbn": f"97800000{book_id:05d}", "author_id": author_id}  # fmt: skip

    expected = [
        {"id": 2, "name": "Frank Herbert", "books": [out(2, "Dune", 1965, 2)]},
        {"id": 4, "name": "Frank Herbert", "books": [out(7, "Destination: Void", 1966, 4)]},
        {"id": 3, "name": "Octavia E. Butler", "books": []},
        {"id": 1, "name": "Ursula K. Le Guin", "books": [
            out(3, "The Dispossessed", 1974, 1),
            out(6, "The Tombs of Atuan", 1971, 1),  # 1971 twice: the higher id first
            out(4, "The Lathe of Heaven", 1971, 1),
            out(1, "The Left Hand of Darkness", 1969, 1),
            out(5, "A Wizard of Earthsea", 1968, 1),
        ]},
    ]  # fmt: skip
    got = body_of(r)
    assert got == expected, (
        f"GET /authors → {got}, expected {expected}: authors by name, then by id, the lower "
        "first (order by both: an index may hand ties back in any order); each with all their "
        "books, newest first (by year, then the higher id), and no email"
    )


@pytest.mark.task(4)
def test_an_author_without_books_has_an_empty_list(client, database):
    seed(database, authors=[OCTAVIA])
    r = client.get("/authors")
    expected = [{"id": 3, "name": "Octavia E. Butler", "books": []}]
    assert (r.status_code, body_of(r)) == (200, expected), (
        f"GET /authors → {r.status_code} {body_of(r)}, expected 200 {expected}"
    )


@pytest.mark.task(4)
@pytest.mark.white_box  # counting SQL statements means listening on the engine, inside the app
def test_listing_authors_takes_as_many_queries_for_30_authors_as_for_3(database, in_process):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    def queries_for(client, authors):
        seed(
            database,
            authors=[(n, f"Author {n:02d}", f"author{n}@example.com") for n in authors],
            books=[book(n * 10 + k, f"Book {n}.{k}", 1950 + k, n) for n in authors for k in (1, 2)],
        )
        statements.clear()
        r = client.get("/authors")
        assert r.status_code == 200, f"GET /authors → {r.status_code} {body_of(r)}"
        listed = body_of(r)
        assert sum(len(author["books"]) for author in listed) == 2 * len(listed), (
            f"GET /authors listed {len(listed)} authors without their 2 books each"
        )
        return len(statements)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with TestClient(kata.app, raise_server_exceptions=False) as client:
            few = queries_for(client, range(1, 4))
            many = queries_for(client, range(4, 31))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert (few, many) == (few, few) and few <= 2, (
        f"GET /authors sent {few} SQL statements for 3 authors and {many} for 30, expected the "
        "same number, at most 2: load the books with the authors (selectinload), not one query "
        "per author when each author's .books is read"
    )


# Task 5 — Pages of books


CATALOGUE = {
    "authors": [URSULA, FRANK, OCTAVIA],
    "books": [
        book(1, "The Left Hand of Darkness", 1969, 1),
        (2, "Dune", 1965, None, 2),  # catalogued before ISBNs were
        book(3, "Kindred", 1979, 3),
        book(4, "The Dispossessed", 1974, 1),
        book(5, "Dune Messiah", 1969, 2),
        book(6, "Parable of the Sower", 1993, 3),
        book(7, "The Lathe of Heaven", 1971, 1),
        book(8, "Children of Dune", 1976, 2),
        book(9, "The Word for World Is Forest", 1976, 1),
    ],
}
# Newest first; in 1976 and in 1969 the book added last (the higher id) comes first.
NEWEST_FIRST = [6, 3, 9, 8, 4, 7, 5, 1, 2]


def page_of(client, **params):
    r = client.get("/books", params=params)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    assert r.status_code == 200, f"GET /books?{query} → {r.status_code} {body_of(r)}, expected 200"
    return r.json(), f"GET /books?{query}"


@pytest.mark.task(5)
def test_pages_walk_through_every_book_once_newest_first(client, database):
    seed(database, **CATALOGUE)
    seen = []
    for offset in (0, 4, 8, 12):
        page, request = page_of(client, limit=4, offset=offset)
        got = {key: page.get(key) for key in ("total", "limit", "offset")}
        expected = {"total": 9, "limit": 4, "offset": offset}
        assert got == expected, f"{request} → {got}, expected {expected}"
        seen.append([item["id"] for item in page["items"]])
    expected = [NEWEST_FIRST[0:4], NEWEST_FIRST[4:8], NEWEST_FIRST[8:], []]
    assert seen == expected, (
        f"pages of 4 hold the books {seen}, expected {expected}: order by year, newest first, "
        "then by id, highest first, so that books of one year never swap between pages"
    )


@pytest.mark.task(5)
def test_a_page_of_one_authors_books_counts_only_theirs(client, database):
    seed(database, **CATALOGUE)
    page, request = page_of(client, author_id=1, limit=2, offset=1)
    got = {"ids": [item["id"] for item in page["items"]], "total": page.get("total")}
    assert got == {"ids": [4, 7], "total": 4}, (
        f"{request} → {got}, expected books [4, 7] and total 4 (the second and third newest "
        "of Ursula's four books)"
    )
    expected_item = {
        "id": 4, "title": "The Dispossessed", "year": 1974, "isbn": "9780000000004",
        "author_id": 1,
    }  # fmt: skip
    assert page["items"][0] == expected_item, f"{request} → first item {page['items'][0]}"
    page, request = page_of(client, author_id=2)
    got = [(item["id"], item["isbn"]) for item in page["items"]]
    expected = [(8, "9780000000008"), (5, "9780000000005"), (2, None)]
    assert got == expected, f"{request} → (id, isbn) {got}, expected {expected}"
    for unknown in (99, 0, -1):
        page, request = page_of(client, author_id=unknown)
        assert (page["items"], page["total"]) == ([], 0), (
            f"{request} → {page}, expected no items and total 0: no author has the id "
            f"{unknown} (0 is an id like any other, not 'no filter')"
        )


@pytest.mark.task(5)
def test_the_default_page_is_the_20_newest(client, database):
    seed(
        database,
        authors=[URSULA],
        books=[book(n, f"Book {n}", 1900 + (n * 7) % 25, 1) for n in range(1, 26)],
    )
    page, request = page_of(client)
    got = {key: page.get(key) for key in ("total", "limit", "offset")}
    assert got == {"total": 25, "limit": 20, "offset": 0}, f"{request} → {got}"
    years = [item["year"] for item in page["items"]]
    assert years == sorted((1900 + (n * 7) % 25 for n in range(1, 26)), reverse=True)[:20], (
        f"{request} → years {years}, expected the 20 newest of 25 books, newest first"
    )


@pytest.mark.task(5)
@pytest.mark.parametrize(("limit", "count"), [(1, 1), (100, 9)])
def test_limit_accepts_1_and_100(client, database, limit, count):
    seed(database, **CATALOGUE)
    page, request = page_of(client, limit=limit)
    assert len(page["items"]) == count, (
        f"{request} → {len(page['items'])} books, expected {count}: limit may be 1 to 100"
    )


@pytest.mark.task(5)
@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "limit=ten", "author_id=ursula"]
)
def test_paging_outside_the_bounds_is_422(client, query):
    r = client.get(f"/books?{query}")
    name = query.split("=")[0]
    locations = [e.get("loc") for e in r.json().get("detail", [])] if r.status_code == 422 else []
    assert r.status_code == 422 and ["query", name] in locations, (
        f"GET /books?{query} → {r.status_code} {body_of(r)}, expected 422 at ['query', '{name}']"
    )


# Task 6 — A duplicate is a 409


@pytest.mark.task(6)
def test_a_taken_email_is_409_and_the_app_carries_on(client, database):
    seed(database, authors=[URSULA])
    r = client.post("/authors", json={"name": "Ursula", "email": "ursula@example.com"})
    assert (r.status_code, body_of(r)) == (409, {"detail": "Email already registered"}), (
        f"POST /authors with a taken email → {r.status_code} {body_of(r)}, "
        "expected 409 {'detail': 'Email already registered'}"
    )
    r = client.post("/authors", json={"name": "Frank Herbert", "email": "frank@example.com"})
    assert r.status_code == 201, (
        f"POST /authors after the 409 → {r.status_code} {body_of(r)}, expected 201"
    )
    stored = rows(database, "SELECT id, email FROM authors ORDER BY id")
    assert stored == [(1, "ursula@example.com"), (2, "frank@example.com")], f"authors: {stored}"


@pytest.mark.task(6)
def test_a_taken_isbn_is_409_and_the_app_carries_on(client, database):
    seed(database, authors=[URSULA, FRANK], books=[book(1, "Dune", 1965, 2, DUNE["isbn"])])
    r = client.post("/books", json={**DUNE, "title": "Dune (again)"})
    detail = {"detail": "ISBN 9780441013593 is already in the catalogue"}
    assert (r.status_code, body_of(r)) == (409, detail), (
        f"POST /books with a taken ISBN → {r.status_code} {body_of(r)}, expected 409 {detail}"
    )
    r = client.post("/books", json={**DUNE, "author_id": 99})
    assert (r.status_code, body_of(r)) == (404, {"detail": "Author not found"}), (
        f"POST /books with a taken ISBN and an unknown author → {r.status_code} {body_of(r)}, "
        "expected 404 Author not found: the author is checked first"
    )
    r = client.post("/books", json=BOOK)
    assert r.status_code == 201, f"POST /books after the 409 → {r.status_code} {body_of(r)}"
    stored = rows(database, "SELECT id, title FROM books ORDER BY id")
    assert stored == [(1, "Dune"), (2, "The Dispossessed")], f"books: {stored}"


@pytest.mark.task(6)
@pytest.mark.parametrize("taken", ["in the file", "twice in the import"])
def test_an_import_with_a_taken_isbn_is_409_and_saves_nothing(client, database, taken):
    seed(database, authors=[URSULA, FRANK], books=[book(1, "Dune", 1965, 2, DUNE["isbn"])])
    second = {**BOOK, "title": "The Dispossessed (again)"} if taken != "in the file" else DUNE
    r = client.post("/books/import", json=[BOOK, second])
    isbn = second["isbn"]
    detail = {"detail": f"ISBN {isbn} is already in the catalogue"}
    assert (r.status_code, body_of(r)) == (409, detail), (
        f"POST /books/import with an ISBN {taken} → {r.status_code} {body_of(r)}, "
        f"expected 409 {detail}"
    )
    stored = rows(database, "SELECT id FROM books")
    assert stored == [(1,)], f"books after the failed import → {stored}, expected only book 1"


@pytest.mark.task(6)
@pytest.mark.parametrize("first", ["taken ISBN", "unknown author"])
def test_an_import_answers_the_error_of_its_first_failing_book(client, database, first):
    seed(database, authors=[URSULA, FRANK], books=[book(1, "Dune", 1965, 2, DUNE["isbn"])])
    good = {**BOOK, "title": "The Left Hand of Darkness", "year": 1969, "isbn": "9780441478125"}
    failing = {
        "taken ISBN": ({**DUNE, "title": "Dune (again)"}, 409, "ISBN 9780441013593 is already in the catalogue"),
        "unknown author": ({**BOOK, "author_id": 99}, 404, "Author not found"),
    }  # fmt: skip
    second = next(name for name in failing if name != first)
    batch = [good, failing[first][0], failing[second][0]]
    r = client.post("/books/import", json=batch)
    expected = (failing[first][1], {"detail": failing[first][2]})
    assert (r.status_code, body_of(r)) == expected, (
        f"POST /books/import of [a good book, a book with {first}, a book with {second}] → "
        f"{r.status_code} {body_of(r)}, expected {expected[0]} {expected[1]}: the books are "
        "taken in the order sent, and the first one that fails decides the answer"
    )
    stored = rows(database, "SELECT id FROM books")
    assert stored == [(1,)], f"books after the failed import → {stored}, expected only book 1"


# Triggers that play another request, one that stores the same email or ISBN after yours has
# looked and just before your INSERT runs: only the UNIQUE constraint can see it.
RACE = """
CREATE TRIGGER someone_else_takes_the_email BEFORE INSERT ON authors
WHEN NEW.email = 'frank@example.com'
BEGIN
    INSERT INTO authors (name, email) VALUES ('Someone else', NEW.email);
END;
CREATE TRIGGER someone_else_takes_the_isbn BEFORE INSERT ON books
WHEN NEW.isbn = '9780441013593'
BEGIN
    INSERT INTO books (title, year, isbn, author_id) VALUES ('Dune', 1965, NEW.isbn, 1);
END;
"""


@pytest.mark.task(6)
def test_a_request_that_loses_the_race_for_an_email_or_isbn_is_409(client, database):
    seed(database, authors=[URSULA])
    with closing(sqlite3.connect(database)) as conn:
        conn.executescript(RACE)
    email = {"detail": "Email already registered"}
    isbn = {"detail": "ISBN 9780441013593 is already in the catalogue"}
    for path, body, detail in [
        ("/authors", {"name": "Frank Herbert", "email": "frank@example.com"}, email),
        ("/books", {**DUNE, "author_id": 1}, isbn),
        ("/books/import", [BOOK, {**DUNE, "author_id": 1}], isbn),
    ]:
        r = client.post(path, json=body)
        assert (r.status_code, body_of(r)) == (409, detail), (
            f"POST {path}, while another request stores the same value just before the "
            f"INSERT → {r.status_code} {body_of(r)}, expected 409 {detail}: a SELECT first "
            "cannot see that request; let the INSERT fail and catch the IntegrityError"
        )
    assert rows(database, "SELECT id FROM authors") == [(1,)], "the lost race saved an author"
    assert rows(database, "SELECT id FROM books") == [], "the lost race saved a book"
    r = client.post("/authors", json={"name": "Octavia E. Butler", "email": "octavia@example.com"})
    assert r.status_code == 201, f"POST /authors after the 409s → {r.status_code} {body_of(r)}"


# Task 7 — A migration, up and down


@pytest.fixture
def alembic_on_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_process):
    """`migrate("upgrade", "head")` runs Alembic on an empty file of the test's own, named by
    LIBRARY_DATABASE_URL; the fixture gives that function and the file's path.

    The scripts are laid out as `alembic init` would make them, from the kata's flat files: an
    env.py that runs migrations.run_migrations(), and versions/ with the NNNN_*.py revisions.
    """
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "migrated.db"
    monkeypatch.setenv("LIBRARY_DATABASE_URL", f"sqlite:///{path}")
    scripts = tmp_path / "alembic"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text("import migrations\n\nmigrations.run_migrations()\n")
    for revision in sorted(HERE.glob("[0-9][0-9][0-9][0-9]_*.py")):
        shutil.copy(revision, scripts / "versions" / revision.name)
    config = Config()
    config.set_main_option("script_location", str(scripts))

    def run(direction: str, revision: str) -> None:
        getattr(command, direction)(config, revision)

    return run, path


def columns(path: Path, table: str) -> list[str]:
    return [row[1] for row in rows(path, f"PRAGMA table_info({table})")]


# What `upgrade 0001` makes, and `downgrade 0001` must give back: (type, name, table).
SCHEMA_0001 = [
    ("index", "ix_books_author_id", "books"),
    ("index", "sqlite_autoindex_alembic_version_1", "alembic_version"),
    ("index", "sqlite_autoindex_authors_1", "authors"),  # the UNIQUE email
    ("table", "alembic_version", "alembic_version"),
    ("table", "authors", "authors"),
    ("table", "books", "books"),
]


def objects(path: Path) -> list[tuple]:
    return rows(path, "SELECT type, name, tbl_name FROM sqlite_master ORDER BY type, name")


def tables(path: Path) -> list[str]:
    return [
        name
        for (name,) in rows(
            path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )
    ]


@pytest.mark.task(7)
@pytest.mark.white_box  # runs the migration files, which only exist beside the learner's code
def test_upgrade_to_head_builds_the_tables_of_the_models(alembic_on_a_file):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    migrate, path = alembic_on_a_file
    migrate("upgrade", "head")
    assert rows(path, "SELECT version_num FROM alembic_version") == [("0002",)], (
        "after `upgrade head` alembic_version should hold 0002"
    )
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], (
        f"the migrated database differs from models.py: {differences} (what "
        "`alembic revision --autogenerate` would still find to do)"
    )
    seed(path, authors=[URSULA], books=[book(1, "Dune", 1965, 1, DUNE["isbn"])])
    for what, sql in [
        ("a taken email", "INSERT INTO authors (name, email) VALUES ('U', 'ursula@example.com')"),
        ("a taken ISBN", "INSERT INTO books (title, year, isbn, author_id) VALUES ('D', 1965, '9780441013593', 1)"),
    ]:  # fmt: skip
        with pytest.raises(sqlite3.IntegrityError), closing(sqlite3.connect(path)) as conn:
            conn.execute(sql)
            pytest.fail(f"the migrated database accepted {what}: it should be UNIQUE")


@pytest.mark.task(7)
@pytest.mark.white_box  # runs the migration files, which only exist beside the learner's code
def test_0002_adds_isbn_to_the_books_already_there(alembic_on_a_file):
    migrate, path = alembic_on_a_file
    migrate("upgrade", "0001")
    assert objects(path) == SCHEMA_0001, (
        f"after `upgrade 0001` the database holds {objects(path)}, expected {SCHEMA_0001}: "
        "the two tables, the unique email and the index on books.author_id"
    )
    assert columns(path, "books") == ["id", "title", "year", "author_id"], (
        f"after 0001 books has {columns(path, 'books')}, expected id, title, year, author_id: "
        "the ISBN comes with 0002"
    )
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO authors VALUES (1, 'Ursula K. Le Guin', 'ursula@example.com')")
        conn.execute("INSERT INTO books VALUES (1, 'The Dispossessed', 1974, 1)")
    migrate("upgrade", "head")
    assert "isbn" in columns(path, "books"), f"after 0002 books has {columns(path, 'books')}"
    stored = rows(path, "SELECT id, title, isbn FROM books")
    assert stored == [(1, "The Dispossessed", None)], (
        f"after 0002 the book already there is {stored}, expected it kept, with no ISBN"
    )


@pytest.mark.task(7)
@pytest.mark.white_box  # runs the migration files, which only exist beside the learner's code
def test_downgrade_takes_isbn_away_and_keeps_the_books(alembic_on_a_file):
    migrate, path = alembic_on_a_file
    migrate("upgrade", "head")
    seed(path, authors=[URSULA], books=[book(1, "The Dispossessed", 1974, 1, "9780061054884")])
    migrate("downgrade", "0001")
    assert columns(path, "books") == ["id", "title", "year", "author_id"], (
        f"after `downgrade 0001` books has {columns(path, 'books')}, expected no isbn"
    )
    stored = rows(path, "SELECT id, title, year, author_id FROM books")
    assert stored == [(1, "The Dispossessed", 1974, 1)], (
        f"after the downgrade the books are {stored}, expected the book kept"
    )
    assert objects(path) == SCHEMA_0001, (
        f"after `downgrade 0001` the database holds {objects(path)}, expected what 0001 made: "
        f"{SCHEMA_0001}"
    )
    migrate("downgrade", "base")
    assert tables(path) == ["alembic_version"], (
        f"after `downgrade base` the tables are {tables(path)}, expected only alembic_version"
    )
    migrate("upgrade", "head")
    assert tables(path) == ["alembic_version", "authors", "books"], "upgrade after downgrade"
