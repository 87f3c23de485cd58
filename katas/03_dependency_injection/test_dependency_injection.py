"""Kata 03 · Dependency injection — what the notes API must do. Run: nox -s dependency_injection

Most tests run the app as it runs in production: settings from NOTES_* environment variables,
the real lifespan, and a database file in the test's folder that the test reads through a
connection of its own. The tests marked white_box swap dependencies with
`app.dependency_overrides` — the testability this kata is about — so they run beside your code.
"""

import gc
import inspect
import re
import sqlite3
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import asynccontextmanager, closing, contextmanager
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

import app as kata

API_KEY = "test-key"
SEEDED = 12  # notes that init_db writes into a fresh database
HEX_ID = re.compile(r"[0-9a-f]{32}")
SEEDED_TAGS = [
    {"tag": "errands", "count": 2},
    {"tag": "home", "count": 3},
    {"tag": "ideas", "count": 2},
    {"tag": "learning", "count": 2},
    {"tag": "work", "count": 3},
]


@contextmanager
def leaked_connections_ignored():
    """A connection left open is a task 3 failure with its own message. Without this filter,
    Python 3.13's "unclosed database" ResourceWarning would also fail unrelated tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed database", ResourceWarning)
        yield


@pytest.fixture(autouse=True)
def quiet_leaks():
    with leaked_connections_ignored():
        yield


@pytest.fixture(autouse=True, scope="module")
def collect_leaks():
    yield
    with leaked_connections_ignored():
        gc.collect()


@pytest.fixture
def db(tmp_path, monkeypatch):
    """The app's settings, from the environment: its database is a file in the test's folder."""
    monkeypatch.chdir(tmp_path)  # code that ignores the settings writes here, not in the kata
    path = tmp_path / "test-notes.db"
    monkeypatch.setenv("NOTES_APP_NAME", "Notes under test")
    monkeypatch.setenv("NOTES_DATABASE_PATH", str(path))
    monkeypatch.setenv("NOTES_API_KEY", API_KEY)
    return path


@pytest.fixture
def client(db):
    with TestClient(kata.app) as client:  # `with` runs the lifespan: it creates and seeds the file
        yield client


def query(db, sql, *params):
    """Read the test's database file through a connection of our own."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def titles(db):
    return {title for (title,) in query(db, "SELECT title FROM notes")}


def operation(client, method, path):
    response = client.get("/openapi.json")
    assert response.status_code == 200, f"GET /openapi.json → {response.status_code}, expected 200"
    return response.json()["paths"][path][method]


# White-box helpers: they swap the app's dependencies from outside, as a test suite would.


@pytest.fixture
def overrides():
    """app.dependency_overrides for one test, cleared afterwards."""
    yield kata.app.dependency_overrides
    kata.app.dependency_overrides.clear()


def other_settings(tmp_path, **changes):
    """Settings that differ from the environment's, to hand in through an override."""
    values = {
        "app_name": "Notes under test",
        "database_path": str(tmp_path / "override.db"),
        "api_key": API_KEY,
    }
    return kata.Settings(**(values | changes))


@pytest.fixture
def connections(db, overrides):
    """Every connection the real get_db hands out, in order.

    The override wraps the learner's own get_db, so the routes still get its real connection.
    """
    opened: list[sqlite3.Connection] = []
    real_get_db = kata.get_db
    settings_dep = Annotated[kata.Settings, Depends(kata.get_settings)]

    if inspect.isasyncgenfunction(real_get_db):

        async def recording_get_db(settings: settings_dep):
            async with asynccontextmanager(real_get_db)(settings) as conn:
                opened.append(conn)
                yield conn

    else:

        def recording_get_db(settings: settings_dep):
            with contextmanager(real_get_db)(settings) as conn:
                opened.append(conn)
                yield conn

    overrides[kata.get_db] = recording_get_db
    return opened


def is_closed(conn):
    try:
        _ = conn.total_changes  # raises on a closed connection, whichever thread asks
    except sqlite3.ProgrammingError:
        return True
    return False


# Task 1 — configuration is a dependency


@pytest.mark.task(1)
def test_info_reads_the_app_name_from_the_settings(client):
    response = client.get("/info")
    assert response.status_code == 200, f"GET /info → {response.status_code}, expected 200"
    assert response.json() == {"app_name": "Notes under test"}, (
        f"GET /info with NOTES_APP_NAME='Notes under test' → {response.json()}, "
        "expected {'app_name': 'Notes under test'}: the route must take its settings from get_settings"
    )


@pytest.mark.task(1)
@pytest.mark.white_box
def test_info_follows_an_override_request_by_request(db, overrides, tmp_path):
    with TestClient(kata.app) as client:
        for name in ("First override", "Second override"):
            overrides[kata.get_settings] = lambda name=name: other_settings(tmp_path, app_name=name)
            body = client.get("/info").json()
            assert body == {"app_name": name}, (
                f"GET /info with get_settings overridden to app_name={name!r} → {body}, "
                f"expected {{'app_name': {name!r}}}: declare the settings as a parameter "
                "(SettingsDep), so an override reaches the route"
            )


@pytest.mark.task(1)
@pytest.mark.white_box
def test_get_settings_builds_the_settings_once(db):
    first = kata.get_settings()
    assert isinstance(first, kata.Settings), (
        f"get_settings() → {first!r}, expected a Settings instance"
    )
    assert kata.get_settings() is first, (
        "get_settings() twice → two different objects, expected the same one (build it once)"
    )


# Task 2 — a chain of sub-dependencies: settings → connection → repository → route


@pytest.mark.task(2)
def test_seeded_note_is_served_from_the_database(client):
    response = client.get("/notes/1")
    assert response.status_code == 200, f"GET /notes/1 → {response.status_code}, expected 200"
    assert response.json() == {"id": 1, "title": "Buy milk", "tag": "home"}, (
        f"GET /notes/1 → {response.json()}, expected the first seeded note, Buy milk"
    )


@pytest.mark.task(2)
def test_route_reads_the_file_named_in_the_settings(client, db):
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO notes (id, title, tag) VALUES (77, 'Written by the test', 'test')"
        )
    response = client.get("/notes/77")
    assert response.status_code == 200, (
        f"GET /notes/77 → {response.status_code}, expected 200: the test wrote note 77 "
        "into NOTES_DATABASE_PATH, so get_db must open settings.database_path"
    )
    assert response.json() == {"id": 77, "title": "Written by the test", "tag": "test"}, (
        f"GET /notes/77 → {response.json()}, expected the note the test wrote"
    )


@pytest.mark.task(2)
@pytest.mark.white_box
def test_an_override_of_get_settings_moves_the_database(db, overrides, tmp_path):
    moved = other_settings(tmp_path)
    overrides[kata.get_settings] = lambda: moved
    with TestClient(kata.app) as client:  # the lifespan seeds the override's file
        with closing(sqlite3.connect(moved.database_path)) as conn, conn:
            conn.execute("INSERT INTO notes (id, title, tag) VALUES (77, 'Moved', 'test')")
        response = client.get("/notes/77")
    assert response.status_code == 200 and response.json()["title"] == "Moved", (
        f"GET /notes/77 with get_settings overridden → {response.status_code} "
        f"{response.json()}, expected the note in the override's database: get_db must "
        "declare the settings (SettingsDep), not call get_settings() or Settings() itself"
    )


@pytest.mark.task(2)
def test_unknown_note_is_404(client):
    response = client.get("/notes/999")
    assert response.status_code == 404, f"GET /notes/999 → {response.status_code}, expected 404"
    assert response.json() == {"detail": "Note 999 not found"}, (
        f"GET /notes/999 → {response.json()}, expected {{'detail': 'Note 999 not found'}}"
    )


@pytest.mark.task(2)
def test_dependencies_are_not_request_parameters(client):
    for method, path, expected in [
        ("get", "/notes/{note_id}", ["note_id"]),
        ("post", "/notes", []),
        ("delete", "/admin/notes/{note_id}", ["note_id"]),
    ]:
        names = [p["name"] for p in operation(client, method, path).get("parameters", [])]
        names = [name for name in names if name.lower() != "x-api-key"]  # task 6's header
        assert names == expected, (
            f"{method.upper()} {path} documents parameters {names}, expected {expected}: "
            "the connection, the settings and the repository are injected, not sent by the client"
        )


@pytest.mark.task(2)
def test_overlapping_requests_are_all_served(client):
    def read(note_id):
        response = client.get(f"/notes/{note_id}")
        return note_id, response.status_code, response.json().get("id")

    for _ in range(3):
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(read, [1 + i % SEEDED for i in range(16)]))
        wrong = [(i, status) for i, status, found in answers if status != 200 or found != i]
        assert not wrong, (
            f"16 GET /notes/{{id}} at once → {len(wrong)} failed (id, status: {wrong[:4]}), "
            "expected 200s: FastAPI may run get_db and the route in different worker threads, "
            "so the connection must allow that (sqlite3.connect(..., check_same_thread=False))"
        )


# Task 3 — a transaction per request: commit, roll back, always close


@pytest.mark.task(3)
def test_created_note_is_committed(client, db):
    response = client.post("/notes", json={"title": "Write the kata", "tag": "work"})
    assert response.status_code == 201, f"POST /notes → {response.status_code}, expected 201"
    assert response.json() == {"id": SEEDED + 1, "title": "Write the kata", "tag": "work"}, (
        f"POST /notes → {response.json()}, expected the new note with id {SEEDED + 1}"
    )
    assert "Write the kata" in titles(db), (
        "POST /notes → 201, but the note is not in the database file: commit on success"
    )


@pytest.mark.task(3)
def test_failed_requests_are_rolled_back_and_the_next_one_works(client, db):
    batch = [
        {"title": "First of the batch", "tag": "work"},
        {"title": "Second of the batch", "tag": "work"},
        {"title": "Buy milk", "tag": "home"},  # already seeded: the title is UNIQUE
    ]
    response = client.post("/notes/batch", json=batch)
    assert response.status_code == 409, (
        f"POST /notes/batch with a taken title → {response.status_code}, expected 409"
    )
    assert response.json() == {"detail": "A note titled 'Buy milk' already exists"}, (
        f"POST /notes/batch → {response.json()}, expected the 409 detail naming 'Buy milk'"
    )
    leftovers = titles(db) & {"First of the batch", "Second of the batch"}
    assert not leftovers, (
        f"POST /notes/batch → 409, but {sorted(leftovers)} were saved: roll back when it raises"
    )
    response = client.post("/notes", json={"title": "Call the plumber", "tag": "home"})
    assert response.status_code == 409, f"POST /notes with a taken title → {response.status_code}, expected 409"  # fmt: skip
    response = client.post("/notes/batch", json=batch[:2])
    assert response.status_code == 201, (
        f"POST /notes/batch after two failed requests → {response.status_code}, expected 201"
    )
    assert {"First of the batch", "Second of the batch"} <= titles(db), (
        "POST /notes/batch → 201, but its notes are not in the database file"
    )


@pytest.mark.task(3)
def test_note_is_committed_before_the_response_is_sent(db):
    released = threading.Event()
    started = []  # per response: had the test released the database when it started?

    async def watch_responses(scope, receive, send):
        async def note_then_send(message):
            if message["type"] == "http.response.start":
                started.append(released.is_set())
            await send(message)

        await kata.app(scope, receive, note_then_send)

    # An open read transaction holds a SHARED lock on the file: an INSERT may go ahead, but its
    # COMMIT waits (sqlite3's busy timeout is 5 s) until the test ends that transaction.
    with (
        TestClient(watch_responses) as client,
        closing(sqlite3.connect(db, isolation_level=None)) as reader,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        client.get("/notes/1")  # the lifespan has seeded the file; now take the lock
        started.clear()
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM notes").fetchall()
        sent = pool.submit(client.post, "/notes", json={"title": "Sent late?", "tag": "work"})
        wait([sent], timeout=1.0)
        released.set()  # before the lock goes: no commit can happen before this
        reader.execute("COMMIT")
        response = sent.result(timeout=10)
    assert response.status_code == 201, f"POST /notes → {response.status_code}, expected 201"
    assert started == [True], (
        "POST /notes → the 201 started while its commit was still waiting for the database "
        "(the test held a read lock for 1 s), expected the response only after the commit: "
        "with the default scope the code after `yield` runs after the response is sent "
        "(README: when does the code after yield run?)"
    )
    assert "Sent late?" in titles(db), "POST /notes → 201, but the note is not in the database"


@pytest.mark.task(3)
@pytest.mark.white_box
def test_each_request_gets_its_own_connection_and_closes_it(connections):
    with TestClient(kata.app) as client:
        for _ in range(2):
            response = client.get("/notes/1")
            assert response.status_code == 200, f"GET /notes/1 → {response.status_code}, expected 200"  # fmt: skip
    assert len(connections) == 2, (
        f"two GET /notes/1 → get_db ran {len(connections)} time(s), expected 2"
    )
    assert connections[0] is not connections[1], (
        "two GET /notes/1 → the same connection twice, expected a new connection per request"
    )
    still_open = [i + 1 for i, conn in enumerate(connections) if not is_closed(conn)]
    assert not still_open, (
        f"two GET /notes/1 → the connection of request(s) {still_open} is still open, "
        "expected get_db to close it after the request"
    )


@pytest.mark.task(3)
@pytest.mark.white_box
def test_connection_is_closed_after_a_failed_request(connections):
    with TestClient(kata.app) as client:
        response = client.post("/notes/batch", json=[{"title": "Buy milk", "tag": "home"}])
    assert response.status_code == 409, f"POST /notes/batch → {response.status_code}, expected 409"
    assert connections and is_closed(connections[-1]), (
        "POST /notes/batch → 409 and the connection is still open, "
        "expected get_db to close it on errors too"
    )


# Task 4 — one pagination dependency shared by two routes


@pytest.mark.task(4)
def test_notes_are_paged_by_offset_and_limit(client):
    pages = {
        "/notes": list(range(1, 11)),
        "/notes?offset=0": list(range(1, 11)),
        "/notes?offset=0&limit=1": [1],
        "/notes?offset=2&limit=3": [3, 4, 5],
        "/notes?limit=2&offset=5": [6, 7],
        "/notes?offset=10&limit=50": [11, 12],
        "/notes?limit=50": list(range(1, 13)),
        "/notes?offset=11": [12],
        "/notes?offset=12": [],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} → {response.status_code}, expected 200"
        ids = [note["id"] for note in response.json()]
        assert ids == expected, f"GET {url} → ids {ids}, expected {expected}"


@pytest.mark.task(4)
def test_tags_are_counted_and_paged(client):
    pages = {
        "/tags": SEEDED_TAGS,
        "/tags?offset=0&limit=1": SEEDED_TAGS[:1],
        "/tags?offset=1&limit=2": SEEDED_TAGS[1:3],
        "/tags?offset=4&limit=50": SEEDED_TAGS[4:],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} → {response.status_code}, expected 200"
        assert response.json() == expected, f"GET {url} → {response.json()}, expected {expected}"


@pytest.mark.task(4)
def test_page_parameters_out_of_range_are_422(client):
    for path in ("/notes", "/tags"):
        for name, value in [("limit", "0"), ("limit", "51"), ("offset", "-1"), ("limit", "ten")]:
            response = client.get(path, params={name: value})
            assert response.status_code == 422, (
                f"GET {path}?{name}={value} → {response.status_code}, expected 422: "
                "offset ≥ 0 and 1 ≤ limit ≤ 50, integers, on every paged route"
            )
            errors = [(e["loc"], e.get("input")) for e in response.json()["detail"]]
            assert (["query", name], value) in errors, (
                f"GET {path}?{name}={value} → errors {errors}, expected one at "
                f"['query', '{name}'] for the input {value!r}"
            )


@pytest.mark.task(4)
def test_both_routes_document_the_same_page_parameters(client):
    for path in ("/notes", "/tags"):
        params = {p["name"]: p for p in operation(client, "get", path).get("parameters", [])}
        found = {name: (p["in"], p["schema"].get("default")) for name, p in params.items()}
        expected = {"offset": ("query", 0), "limit": ("query", 10)}
        assert found == expected, (
            f"GET {path} documents the parameters {found} (where, default), expected "
            f"{expected}: both routes take their paging from the pagination dependency"
        )


# Task 5 — one value per request, unless you ask for a fresh one


@pytest.mark.task(5)
def test_one_request_shares_one_id(client):
    body = client.get("/trace").json()
    assert HEX_ID.fullmatch(str(body.get("request_id"))), (
        f"GET /trace → {body}, expected request_id to be 32 hex characters (uuid4().hex)"
    )
    assert body["audit_request_id"] == body["request_id"], (
        f"GET /trace → {body}, expected the route and audit_context to get the same id: "
        "a dependency used twice in one request runs once"
    )


@pytest.mark.task(5)
def test_each_request_gets_a_new_id(client):
    first, second = (client.get("/trace").json().get("request_id") for _ in range(2))
    assert HEX_ID.fullmatch(str(first)) and first != second, (
        f"two GET /trace → request_id {first!r} then {second!r}, expected a new hex id per request"
    )


@pytest.mark.task(5)
def test_uncached_dependency_runs_for_each_parameter(client):
    bodies = [client.get("/ids").json() for _ in range(2)]
    ids = [body.get(key) for body in bodies for key in ("first", "second")]
    assert all(HEX_ID.fullmatch(str(value)) for value in ids), (
        f"two GET /ids → {bodies}, expected 'first' and 'second' to be 32 hex characters each"
    )
    assert len(set(ids)) == 4, (
        f"two GET /ids → {bodies}, expected four different ids: this route asks for a fresh "
        "value for each parameter"
    )


# Task 6 — an API key guards the whole /admin router


ADMIN_ROUTES = [("GET", "/admin/stats"), ("DELETE", "/admin/notes/1")]


@pytest.mark.task(6)
def test_every_admin_route_keeps_the_routers_admin_tag(client):
    for method, path in [("get", "/admin/stats"), ("delete", "/admin/notes/{note_id}")]:
        tags = operation(client, method, path).get("tags")
        assert tags == ["admin"], (
            f"/openapi.json: {method.upper()} {path} is tagged {tags}, expected ['admin'], the "
            "tag of the stub's admin router"
        )


@pytest.mark.task(6)
def test_admin_routes_refuse_a_missing_or_wrong_key(client):
    for method, url in ADMIN_ROUTES:
        for key in (None, "", "wrong-key", "change-me", API_KEY.upper()):
            headers = {} if key is None else {"X-API-Key": key}
            response = client.request(method, url, headers=headers)
            sent = "no X-API-Key" if key is None else f"X-API-Key={key!r}"
            assert response.status_code == 401, (
                f"{method} {url} with {sent} → {response.status_code}, expected 401 "
                f"(the key is settings.api_key, NOTES_API_KEY={API_KEY!r} in these tests)"
            )
            assert response.json() == {"detail": "Invalid or missing API key"}, (
                f"{method} {url} with {sent} → {response.json()}, "
                "expected {'detail': 'Invalid or missing API key'}"
            )
            assert response.headers.get("www-authenticate") == "APIKey", (
                f"{method} {url} with {sent} → WWW-Authenticate "
                f"{response.headers.get('www-authenticate')!r}, expected 'APIKey'"
            )


@pytest.mark.task(6)
def test_rejected_request_changes_nothing(client, db):
    for headers in ({}, {"X-API-Key": "wrong-key"}):
        response = client.delete("/admin/notes/1", headers=headers)
        assert response.status_code == 401, (
            f"DELETE /admin/notes/1 with {headers or 'no key'} → {response.status_code}, "
            "expected 401"
        )
    assert "Buy milk" in titles(db), (
        "DELETE /admin/notes/1 without the right key deleted the note, expected the guard to "
        "stop the request before the route runs"
    )


@pytest.mark.task(6)
def test_the_right_key_opens_the_admin_routes_and_public_routes_need_none(client, db):
    response = client.get("/admin/stats")
    assert response.status_code == 401, f"GET /admin/stats without a key → {response.status_code}, expected 401"  # fmt: skip
    headers = {"X-API-Key": API_KEY}
    response = client.get("/admin/stats", headers=headers)
    assert response.status_code == 200, f"GET /admin/stats → {response.status_code}, expected 200"
    assert response.json() == {"notes": SEEDED, "tags": 5}, (
        f"GET /admin/stats → {response.json()}, expected {{'notes': {SEEDED}, 'tags': 5}}"
    )
    response = client.delete("/admin/notes/1", headers=headers)
    assert response.status_code == 204 and response.content == b"", (
        f"DELETE /admin/notes/1 with the key → {response.status_code} {response.content!r}, "
        "expected 204 with no body"
    )
    assert "Buy milk" not in titles(db), "DELETE /admin/notes/1 → 204, but the note is still there"
    response = client.delete("/admin/notes/1", headers=headers)
    assert response.status_code == 404 and response.json() == {"detail": "Note 1 not found"}, (
        f"DELETE /admin/notes/1 again → {response.status_code} {response.json()}, "
        "expected 404 {'detail': 'Note 1 not found'}"
    )
    for url in ("/info", "/notes/2", "/notes", "/tags", "/trace", "/ids"):
        response = client.get(url)
        assert response.status_code == 200, (
            f"GET {url} without X-API-Key → {response.status_code}, expected 200: "
            "only /admin is guarded"
        )


@pytest.mark.task(6)
@pytest.mark.white_box
def test_the_guard_takes_the_key_from_the_injected_settings(db, overrides, tmp_path):
    overrides[kata.get_settings] = lambda: other_settings(tmp_path, api_key="override-key")
    with TestClient(kata.app) as client:
        right = client.get("/admin/stats", headers={"X-API-Key": "override-key"})
        old = client.get("/admin/stats", headers={"X-API-Key": API_KEY})
    assert (right.status_code, old.status_code) == (200, 401), (
        f"GET /admin/stats with get_settings overridden to api_key='override-key' → "
        f"{right.status_code} with that key and {old.status_code} with {API_KEY!r}, expected "
        "200 and 401: require_api_key must declare the settings (SettingsDep), not read them itself"
    )
