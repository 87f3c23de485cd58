"""Kata 03 · Dependency injection — what the notes API must do. Run: nox -s dependency_injection"""

import gc
import inspect
import re
import sqlite3
import warnings
from contextlib import asynccontextmanager, closing, contextmanager
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

import app as kata

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

API_KEY = "test-key"
SEEDED = 12  # notes that init_db writes into a fresh database
HEX_ID = re.compile(r"[0-9a-f]{32}")


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
def settings(tmp_path, monkeypatch):
    """Settings for one test, swapped in through `app.dependency_overrides` and removed after."""
    monkeypatch.chdir(tmp_path)  # code that ignores the override writes here, not in the kata
    test_settings = kata.Settings(
        app_name="Notes under test",
        database_path=str(tmp_path / "test-notes.db"),
        api_key=API_KEY,
    )
    kata.app.dependency_overrides[kata.get_settings] = lambda: test_settings
    yield test_settings
    kata.app.dependency_overrides.clear()


@pytest.fixture
def client(settings):
    with TestClient(kata.app) as client:  # `with` runs the lifespan: it creates and seeds the file
        yield client


@pytest.fixture
def connections(settings):
    """Every connection the real get_db hands out, in order.

    The override wraps the learner's own get_db, so the routes still get its real connection;
    this is the testability the kata is about: any dependency can be replaced from outside.
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

    kata.app.dependency_overrides[kata.get_db] = recording_get_db
    return opened


def query(settings, sql, *params):
    """Read the test's database file through a connection of our own."""
    with closing(sqlite3.connect(settings.database_path)) as conn:
        return conn.execute(sql, params).fetchall()


def titles(settings):
    return {title for (title,) in query(settings, "SELECT title FROM notes")}


def is_closed(conn):
    try:
        _ = conn.total_changes  # raises on a closed connection, whichever thread asks
    except sqlite3.ProgrammingError:
        return True
    return False


# Task 1 — configuration is a dependency


@pytest.mark.task(1)
def test_info_reads_the_app_name_from_the_injected_settings(client):
    response = client.get("/info")
    assert response.status_code == 200, f"GET /info → {response.status_code}, expected 200"
    assert response.json() == {"app_name": "Notes under test"}, (
        f"GET /info → {response.json()}, expected {{'app_name': 'Notes under test'}}: "
        "the test replaced get_settings, so the route must take its settings from it"
    )


@pytest.mark.task(1)
def test_settings_are_resolved_on_every_request(client, settings):
    for name in ("First override", "Second override"):
        other = settings.model_copy(update={"app_name": name})
        kata.app.dependency_overrides[kata.get_settings] = lambda other=other: other
        body = client.get("/info").json()
        assert body == {"app_name": name}, (
            f"GET /info, app_name={name!r} overridden → {body}, expected {{'app_name': {name!r}}}"
        )


@pytest.mark.task(1)
def test_get_settings_builds_the_settings_once():
    first = kata.get_settings()
    assert isinstance(first, kata.Settings), (
        f"get_settings() → {first!r}, expected a Settings instance"
    )
    assert kata.get_settings() is first, (
        "get_settings() twice → two different objects, expected the same one (build it once)"
    )


@pytest.mark.task(1)
def test_without_an_override_info_uses_get_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kata.app.dependency_overrides.clear()
    expected = kata.get_settings().app_name
    response = TestClient(kata.app).get("/info")  # no `with`: no lifespan, /info needs no database
    assert response.status_code == 200, f"GET /info → {response.status_code}, expected 200"
    assert response.json() == {"app_name": expected}, (
        f"GET /info with no override → {response.json()}, expected {{'app_name': {expected!r}}}"
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
def test_route_reads_the_file_named_in_the_settings(client, settings):
    with closing(sqlite3.connect(settings.database_path)) as conn, conn:
        conn.execute(
            "INSERT INTO notes (id, title, tag) VALUES (77, 'Written by the test', 'test')"
        )
    response = client.get("/notes/77")
    assert response.status_code == 200, (
        f"GET /notes/77 → {response.status_code}, expected 200: the test wrote note 77 "
        "into settings.database_path, so get_db must open that file"
    )
    assert response.json() == {"id": 77, "title": "Written by the test", "tag": "test"}, (
        f"GET /notes/77 → {response.json()}, expected the note the test wrote"
    )


@pytest.mark.task(2)
def test_unknown_note_is_404(client):
    response = client.get("/notes/999")
    assert response.status_code == 404, f"GET /notes/999 → {response.status_code}, expected 404"
    assert response.json() == {"detail": "Note 999 not found"}, (
        f"GET /notes/999 → {response.json()}, expected {{'detail': 'Note 999 not found'}}"
    )


@pytest.mark.task(2)
def test_dependencies_are_not_query_parameters(client):
    operation = client.get("/openapi.json").json()["paths"]["/notes/{note_id}"]["get"]
    names = [p["name"] for p in operation.get("parameters", [])]
    assert names == ["note_id"], (
        f"GET /notes/{{note_id}} documents parameters {names}, expected only ['note_id']: "
        "a connection or settings the route depends on is injected, not sent by the client"
    )


# Task 3 — a transaction per request: commit, roll back, always close


@pytest.mark.task(3)
def test_created_note_is_committed(client, settings):
    response = client.post("/notes", json={"title": "Write the kata", "tag": "work"})
    assert response.status_code == 201, f"POST /notes → {response.status_code}, expected 201"
    assert response.json() == {"id": SEEDED + 1, "title": "Write the kata", "tag": "work"}, (
        f"POST /notes → {response.json()}, expected the new note with id {SEEDED + 1}"
    )
    assert "Write the kata" in titles(settings), (
        "POST /notes → 201, but the note is not in the database file: commit on success"
    )


@pytest.mark.task(3)
def test_failed_batch_is_rolled_back(client, settings):
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
    leftovers = titles(settings) & {"First of the batch", "Second of the batch"}
    assert not leftovers, (
        f"POST /notes/batch → 409, but {sorted(leftovers)} were saved: roll back when it raises"
    )


@pytest.mark.task(3)
def test_each_request_gets_its_own_connection_and_closes_it(client, connections):
    for _ in range(2):
        response = client.get("/notes/1")
        assert response.status_code == 200, f"GET /notes/1 → {response.status_code}, expected 200"
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
def test_connection_is_closed_after_a_failed_request(client, connections):
    batch = [{"title": "Buy milk", "tag": "home"}]
    response = client.post("/notes/batch", json=batch)
    assert response.status_code == 409, f"POST /notes/batch → {response.status_code}, expected 409"
    assert connections and is_closed(connections[-1]), (
        "POST /notes/batch → 409 and the connection is still open, "
        "expected get_db to close it on errors too"
    )


@pytest.mark.task(3)
def test_note_is_committed_before_the_response_is_sent(settings):
    committed_when_sent = []

    async def watch_responses(scope, receive, send):
        async def check_then_send(message):
            if message["type"] == "http.response.start":
                found = query(settings, "SELECT count(*) FROM notes WHERE title = 'Sent late?'")
                committed_when_sent.append(found[0][0])
            await send(message)

        await kata.app(scope, receive, check_then_send)

    with TestClient(watch_responses) as client:
        response = client.post("/notes", json={"title": "Sent late?", "tag": "work"})
    assert response.status_code == 201, f"POST /notes → {response.status_code}, expected 201"
    assert committed_when_sent == [1], (
        "POST /notes → the 201 started before the note was committed, expected get_db "
        "to commit before the response goes out (README: when does the code after yield run?)"
    )


# Task 4 — one pagination dependency shared by two routes


@pytest.mark.task(4)
def test_notes_are_paged_by_offset_and_limit(client):
    pages = {
        "/notes": list(range(1, 11)),
        "/notes?offset=2&limit=3": [3, 4, 5],
        "/notes?offset=10&limit=50": [11, 12],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} → {response.status_code}, expected 200"
        ids = [note["id"] for note in response.json()]
        assert ids == expected, f"GET {url} → ids {ids}, expected {expected}"


@pytest.mark.task(4)
def test_tags_are_counted_and_paged(client):
    all_tags = [
        {"tag": "errands", "count": 2},
        {"tag": "home", "count": 3},
        {"tag": "ideas", "count": 2},
        {"tag": "learning", "count": 2},
        {"tag": "work", "count": 3},
    ]
    for url, expected in {"/tags": all_tags, "/tags?offset=1&limit=2": all_tags[1:3]}.items():
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} → {response.status_code}, expected 200"
        assert response.json() == expected, f"GET {url} → {response.json()}, expected {expected}"


@pytest.mark.task(4)
@pytest.mark.parametrize("path", ["/notes", "/tags"])
@pytest.mark.parametrize(("name", "value"), [("limit", 0), ("limit", 51), ("offset", -1)])
def test_page_parameters_out_of_range_are_422(client, path, name, value):
    response = client.get(path, params={name: value})
    assert response.status_code == 422, (
        f"GET {path}?{name}={value} → {response.status_code}, expected 422: "
        "offset ≥ 0 and 1 ≤ limit ≤ 50 on every paged route"
    )
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["query", name] in locs, (
        f"GET {path}?{name}={value} → errors at {locs}, expected one at ['query', '{name}']"
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
    assert first != second, (
        f"two GET /trace → request_id {first!r} twice, expected a new id per request"
    )


@pytest.mark.task(5)
def test_uncached_dependency_runs_for_each_parameter(client):
    body = client.get("/ids").json()
    assert all(HEX_ID.fullmatch(str(body.get(key))) for key in ("first", "second")), (
        f"GET /ids → {body}, expected 'first' and 'second' to be 32 hex characters each"
    )
    assert body["first"] != body["second"], (
        f"GET /ids → {body}, expected two different ids: this route asks for a fresh value twice"
    )


# Task 6 — an API key guards the whole /admin router


ADMIN_ROUTES = [("GET", "/admin/stats"), ("DELETE", "/admin/notes/1")]


@pytest.mark.task(6)
@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
@pytest.mark.parametrize(
    "key", [None, "wrong-key", "change-me"], ids=["missing", "wrong", "default"]
)
def test_admin_routes_need_the_configured_key(client, method, url, key):
    headers = {} if key is None else {"X-API-Key": key}
    response = client.request(method, url, headers=headers)
    assert response.status_code == 401, (
        f"{method} {url} with X-API-Key={key!r} → {response.status_code}, expected 401 "
        f"(the key is settings.api_key, {API_KEY!r} in these tests)"
    )
    assert response.json() == {"detail": "Invalid or missing API key"}, (
        f"{method} {url} → {response.json()}, expected {{'detail': 'Invalid or missing API key'}}"
    )
    assert response.headers.get("www-authenticate") == "APIKey", (
        f"{method} {url} → WWW-Authenticate {response.headers.get('www-authenticate')!r}, "
        "expected 'APIKey'"
    )


@pytest.mark.task(6)
def test_rejected_request_changes_nothing(client, settings):
    response = client.delete("/admin/notes/1")
    assert response.status_code == 401, (
        f"DELETE /admin/notes/1 without a key → {response.status_code}, expected 401"
    )
    assert "Buy milk" in titles(settings), (
        "DELETE /admin/notes/1 without a key deleted the note, expected the guard to stop it first"
    )


@pytest.mark.task(6)
def test_right_key_opens_the_admin_routes(client, settings):
    headers = {"X-API-Key": API_KEY}
    response = client.get("/admin/stats", headers=headers)
    assert response.status_code == 200, f"GET /admin/stats → {response.status_code}, expected 200"
    assert response.json() == {"notes": SEEDED, "tags": 5}, (
        f"GET /admin/stats → {response.json()}, expected {{'notes': {SEEDED}, 'tags': 5}}"
    )
    response = client.delete("/admin/notes/1", headers=headers)
    assert response.status_code == 204, (
        f"DELETE /admin/notes/1 with the key → {response.status_code}, expected 204"
    )
    assert "Buy milk" not in titles(settings), (
        "DELETE /admin/notes/1 → 204, but the note is still there"
    )


@pytest.mark.task(6)
def test_public_routes_need_no_key(client):
    for url in ("/info", "/notes/1", "/notes", "/tags", "/trace"):
        response = client.get(url)
        assert response.status_code == 200, (
            f"GET {url} without X-API-Key → {response.status_code}, expected 200: "
            "only /admin is guarded"
        )
