"""Kata 05 · Background tasks — what the signup API must do. Run: nox -s background_tasks"""

import asyncio
import json
import logging
import sqlite3
from contextlib import closing

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI
from fastapi.testclient import TestClient

import app as kata

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

ADA = "ada@example.com"
BOUNCE = "bounce@example.com"  # the store rejects notifications to this address (task 5)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh SQLite file for each test, with the app's tables in it."""
    monkeypatch.setattr(kata, "DB_PATH", tmp_path / "app.db")
    kata.init_db()
    return tmp_path / "app.db"


@pytest.fixture
def client(store):
    # Note: TestClient returns only after the background tasks have finished, so a test can
    # read their effects right away — but it cannot see *when* the response was sent.
    with TestClient(kata.app) as client:
        yield client


def rows() -> list[tuple[str, str]]:
    """The stored notifications as (recipient, message), oldest first."""
    with closing(sqlite3.connect(kata.DB_PATH)) as conn:
        return conn.execute("SELECT recipient, message FROM notifications ORDER BY id").fetchall()


def sign_up(client: TestClient, email: str = ADA):
    response = client.post("/users", json={"email": email})
    assert response.status_code == 201, (
        f"POST /users {{'email': {email!r}}} → {response.status_code}, expected 201"
    )
    return response


async def call_app(path: str, payload: dict, on_send=None) -> list[dict]:
    """POST payload to the app by hand, the way an ASGI server does, and return what it sent.

    Unlike TestClient, this lets a test look at the store at the moment each message goes out.
    """
    body = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    sent: list[dict] = []
    answered = asyncio.Event()
    request_read = False

    async def receive() -> dict:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client hangs up only once it has the whole response
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        if on_send is not None:
            on_send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    await kata.app(scope, receive, send)
    return sent


def is_last_body(message: dict) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


@pytest.fixture
def bouncing_store(store):
    """The store refuses any notification for BOUNCE, the way a real store fails: it raises."""
    with closing(sqlite3.connect(store)) as conn:
        conn.execute(
            f"CREATE TRIGGER bounce BEFORE INSERT ON notifications "
            f"WHEN NEW.recipient = '{BOUNCE}' BEGIN SELECT RAISE(ABORT, 'mailbox full'); END"
        )
    return store


# Task 1 — a background task writes the notification


@pytest.mark.task(1)
def test_signup_is_201_with_the_new_user(client):
    response = sign_up(client)
    assert response.json() == {"id": 1, "email": ADA}, (
        f"POST /users → {response.json()}, expected {{'id': 1, 'email': {ADA!r}}}"
    )


@pytest.mark.task(1)
def test_write_notification_stores_one_row(store):
    kata.write_notification(ADA, "hello")
    assert rows() == [(ADA, "hello")], (
        f"write_notification({ADA!r}, 'hello') → notifications table holds {rows()}, "
        f"expected [({ADA!r}, 'hello')]"
    )


@pytest.mark.task(1)
def test_signup_stores_a_welcome_notification(client):
    sign_up(client)
    assert (ADA, kata.WELCOME) in rows(), (
        f"POST /users → notifications {rows()}, expected a ({ADA!r}, {kata.WELCOME!r}) row "
        f"written by a task added with BackgroundTasks.add_task"
    )


# Task 2 — the client has its answer before the task runs


@pytest.mark.task(2)
@pytest.mark.asyncio
async def test_response_is_sent_before_the_notification_is_written(store):
    stored_when_answered: list[list[tuple[str, str]]] = []

    def on_send(message: dict) -> None:
        if is_last_body(message):
            stored_when_answered.append(rows())

    sent = await call_app("/users", {"email": ADA}, on_send)

    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"].endswith("body")))
    assert body == {"id": 1, "email": ADA}, (
        f"POST /users → {body}, expected {{'id': 1, 'email': {ADA!r}}}"
    )
    assert stored_when_answered == [[]], (
        f"POST /users → notifications {stored_when_answered[0]} were already stored when the "
        f"response body went out, expected none yet: the work must run after the response"
    )
    assert (ADA, kata.WELCOME) in rows(), (
        f"POST /users → notifications {rows()} once the app finished, expected a "
        f"({ADA!r}, {kata.WELCOME!r}) row written after the response"
    )


# Task 3 — several tasks run one after another, in the order added


@pytest.mark.task(3)
def test_endpoint_tasks_run_in_the_order_they_were_added(client):
    sign_up(client, ADA)
    sign_up(client, "bob@example.com")
    from_endpoint = [row for row in rows() if row[0] != kata.OPS]
    expected = [
        (ADA, kata.WELCOME),
        (kata.ADMIN, f"New user: {ADA}"),
        ("bob@example.com", kata.WELCOME),
        (kata.ADMIN, "New user: bob@example.com"),
    ]
    assert from_endpoint == expected, (
        f"two POST /users → notifications {from_endpoint}, expected {expected}: "
        f"for each signup the welcome, then the admin note"
    )


# Task 4 — a dependency adds a task too, and it runs first


@pytest.mark.task(4)
def test_audit_dependency_adds_a_task_on_any_route(store):
    other = FastAPI()

    @other.delete("/users/{user_id}", status_code=204, dependencies=[Depends(kata.audit)])
    def remove_user(user_id: int) -> None:
        return None

    with TestClient(other) as client:
        response = client.delete("/users/7")
    assert response.status_code == 204, f"DELETE /users/7 → {response.status_code}, expected 204"
    assert rows() == [(kata.OPS, "DELETE /users/7")], (
        f"DELETE /users/7 on a route guarded by Depends(audit) → notifications {rows()}, "
        f"expected [({kata.OPS!r}, 'DELETE /users/7')]"
    )


@pytest.mark.task(4)
def test_dependency_task_runs_before_the_endpoint_tasks(client):
    sign_up(client)
    first_two = rows()[:2]
    expected = [(kata.OPS, "POST /users"), (ADA, kata.WELCOME)]
    assert first_two == expected, (
        f"POST /users → notifications start with {first_two}, expected {expected}: the task "
        f"added by the audit dependency runs before the endpoint's"
    )


# Task 5 — a failing task is logged and does not stop the others


@pytest.mark.task(5)
def test_failed_write_is_logged_not_raised(bouncing_store, caplog):
    raised = None
    try:
        kata.write_notification(BOUNCE, kata.WELCOME)
    except sqlite3.Error as exc:
        raised = exc
    assert raised is None, (
        f"write_notification({BOUNCE!r}, ...) with the store refusing it → raised {raised!r}, "
        f"expected it to log the failure and return"
    )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and BOUNCE in r.getMessage()]
    assert errors, (
        f"write_notification({BOUNCE!r}, ...) with the store refusing it → logged "
        f"{[r.getMessage() for r in caplog.records]}, expected an ERROR record naming {BOUNCE!r}"
    )


@pytest.mark.task(5)
def test_failed_task_changes_nothing_for_the_client_and_later_tasks_still_run(
    bouncing_store, caplog
):
    # raise_server_exceptions=False: see what a real client sees even if a task raises.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        response = client.post("/users", json={"email": BOUNCE})
    assert (response.status_code, response.json()) == (201, {"id": 1, "email": BOUNCE}), (
        f"POST /users {{'email': {BOUNCE!r}}} → {response.status_code} {response.json()}, "
        f"expected 201 {{'id': 1, 'email': {BOUNCE!r}}} even though its welcome task fails"
    )
    admin_note = (kata.ADMIN, f"New user: {BOUNCE}")
    assert admin_note in rows(), (
        f"POST /users {{'email': {BOUNCE!r}}} (welcome task fails) → notifications {rows()}, "
        f"expected {admin_note} too: a task that raises would stop every task after it"
    )
    assert any(r.levelno >= logging.ERROR and BOUNCE in r.getMessage() for r in caplog.records), (
        f"POST /users {{'email': {BOUNCE!r}}} → the failed welcome task left no ERROR log "
        f"record naming {BOUNCE!r}"
    )


# Task 6 — the request's connection is released early; tasks open their own


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_request_connection_is_closed_before_the_response_is_sent(store, monkeypatch):
    events: list[str] = []

    def tracked_get_db():
        conn = kata.connect()
        try:
            yield conn
        finally:
            conn.close()
            events.append("request connection closed")

    monkeypatch.setitem(kata.app.dependency_overrides, kata.get_db, tracked_get_db)

    def on_send(message: dict) -> None:
        if is_last_body(message):
            events.append("response sent")

    await call_app("/users", {"email": ADA}, on_send)
    assert events == ["request connection closed", "response sent"], (
        f"POST /users → events {events}, expected the request's connection closed as soon as "
        f"the endpoint returns, before the response is sent (and before the tasks)"
    )


@pytest.mark.task(6)
def test_no_task_is_handed_the_request_connection(client, monkeypatch):
    handed: list[str] = []
    add_task = BackgroundTasks.add_task

    def spy(self, func, *args, **kwargs):
        if any(isinstance(a, sqlite3.Connection) for a in (*args, *kwargs.values())):
            handed.append(getattr(func, "__name__", repr(func)))
        return add_task(self, func, *args, **kwargs)

    monkeypatch.setattr(BackgroundTasks, "add_task", spy)
    sign_up(client)
    assert not handed, (
        f"POST /users → add_task({handed[0] if handed else ''}, <sqlite3.Connection>, ...), "
        f"expected no connection passed to a task: it opens its own with connect()"
    )
    assert (ADA, kata.WELCOME) in rows(), (
        f"POST /users → notifications {rows()}, expected the welcome row written on the "
        f"task's own connection"
    )
