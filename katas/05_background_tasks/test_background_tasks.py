"""Kata 05 · Background tasks — what the signup API must do. Run: nox -s background_tasks"""

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import BackgroundTasks
from fastapi.testclient import TestClient

import app as kata

ADA = "ada@example.com"
BOB = "bob@example.com"
BOUNCE = "bounce@example.com"  # the store refuses notifications to it: an IntegrityError (task 5)
FLAKY = "flaky@example.com"  # the store fails on notifications to it: an OperationalError (task 5)
WELCOME = "Welcome aboard!"
ADMIN = "admin@example.com"
OPS = "ops@example.com"

Row = tuple[str, str]


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """This test's SQLite file and log file, named to the app through the environment."""
    monkeypatch.setenv("SIGNUPS_DB", str(tmp_path / "store.sqlite3"))
    monkeypatch.setenv("SIGNUPS_LOG_FILE", str(tmp_path / "app.log"))
    work = tmp_path / "work"  # the working folder: a default path lands here, not in the repository
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "store.sqlite3"


@pytest.fixture
def client(store) -> Iterator[TestClient]:
    # TestClient returns only after the background tasks have finished, so a test can read their
    # effects right away — but it cannot see *when* the response was sent (see `call_app`).
    # `with` runs the lifespan, which creates the tables in $SIGNUPS_DB.
    with TestClient(kata.app) as client:
        yield client


def notifications(store: Path) -> list[Row]:
    """The stored notifications as (recipient, message), oldest first."""
    with closing(sqlite3.connect(store)) as conn:
        try:
            return conn.execute(
                "SELECT recipient, message FROM notifications ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            pytest.fail(
                "no notifications table in the file named by SIGNUPS_DB: the app must create its "
                "tables at startup in $SIGNUPS_DB, read when it starts (not when it is imported)"
            )


def sign_up(client: TestClient, email: str) -> dict[str, Any]:
    response = client.post("/users", json={"email": email})
    assert response.status_code == 201, (
        f"POST /users {{'email': {email!r}}} → {response.status_code}, expected 201"
    )
    return response.json()


def errors_logged(store: Path) -> list[str]:
    """The ERROR and CRITICAL lines the app logged to $SIGNUPS_LOG_FILE."""
    log = store.with_name("app.log")
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith(("ERROR ", "CRITICAL "))]


def refuse_notifications(store: Path) -> None:
    """The store fails the way real stores do: BOUNCE breaks a constraint, FLAKY errors out."""
    with closing(sqlite3.connect(store)) as conn:
        conn.executescript(
            f"""
            CREATE TRIGGER bounce BEFORE INSERT ON notifications
            WHEN NEW.recipient = '{BOUNCE}' BEGIN SELECT RAISE(ABORT, 'mailbox full'); END;
            CREATE TRIGGER flaky BEFORE INSERT ON notifications
            WHEN NEW.recipient = '{FLAKY}' BEGIN SELECT abs(-9223372036854775808); END;
            """
        )  # abs() of the smallest integer fails with "integer overflow": an OperationalError


def slow_down_the_first_notification(store: Path) -> None:
    """The first notification takes a moment to store (a third of a second of SQLite's CPU)."""
    with closing(sqlite3.connect(store)) as conn:
        conn.execute("CREATE TABLE pad (x INTEGER)")
        conn.executemany("INSERT INTO pad VALUES (?)", [(x,) for x in range(1000)])
        conn.execute(
            "CREATE TRIGGER slow BEFORE INSERT ON notifications "
            "WHEN (SELECT count(*) FROM notifications) = 0 BEGIN "
            "SELECT count(*) FROM pad AS a, pad AS b, pad AS c WHERE c.x < 20; END"
        )
        conn.commit()


async def call_app(
    method: str, path: str, payload: dict[str, Any] | None, on_send: Callable[[dict], None]
) -> list[dict[str, Any]]:
    """Send one request to the app by hand, the way an ASGI server does; what the app sent.

    Unlike TestClient, this lets a test look at the store the moment each message goes out.
    """
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = [(b"host", b"test"), (b"content-length", str(len(body)).encode())]
    if payload is not None:
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []
    answered = anyio.Event()
    request_read = False

    async def receive() -> dict[str, Any]:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client hangs up only once it has the whole response
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        on_send(message)
        if is_last_body(message):
            answered.set()

    await kata.app(scope, receive, send)
    return sent


def is_last_body(message: dict[str, Any]) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


def answer(sent: list[dict[str, Any]]) -> tuple[int | None, Any]:
    """The status and the JSON body of the messages an app sent."""
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(raw) if raw else None


# Task 1 — a background task writes the welcome


@pytest.mark.task(1)
def test_signup_is_201_and_the_new_user_is_welcomed(client, store):
    for number, email in enumerate([ADA, BOB], start=1):
        body = sign_up(client, email)
        assert body == {"id": number, "email": email}, (
            f"POST /users {{'email': {email!r}}} (signup {number}) → {body}, "
            f"expected {{'id': {number}, 'email': {email!r}}}"
        )
        to_them = [row for row in notifications(store) if row[0] == email]
        assert to_them == [(email, WELCOME)], (
            f"POST /users {{'email': {email!r}}} → notifications to {email}: {to_them}, expected "
            f"exactly [({email!r}, {WELCOME!r})], written by a task added with add_task"
        )


@pytest.fixture
def tracked(monkeypatch) -> list[sqlite3.Connection]:
    """Every SQLite connection opened from now on, in the order opened; each one remembers
    whether close() was called on it (`explicitly_closed`)."""

    class Tracked(sqlite3.Connection):
        explicitly_closed = False

        def close(self) -> None:
            self.explicitly_closed = True
            super().close()

    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, factory=Tracked, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return opened


@pytest.mark.task(1)
@pytest.mark.white_box  # whether close() was called cannot be seen from outside the app
def test_write_notification_commits_and_closes_its_own_connection(client, store, tracked):
    tracked.clear()
    kata.write_notification(ADA, "hello")
    opened = len(tracked)
    stored = notifications(store)
    assert stored == [(ADA, "hello")], (
        f"write_notification({ADA!r}, 'hello') → notifications {stored}, expected "
        f"[({ADA!r}, 'hello')]: insert the row, then commit"
    )
    assert opened >= 1, (
        f"write_notification({ADA!r}, 'hello') opened no connection, expected one of its own "
        f"from connect()"
    )
    left_open = [conn for conn in tracked[:opened] if not conn.explicitly_closed]
    assert not left_open, (
        f"write_notification({ADA!r}, 'hello') → {len(left_open)} connection(s) never closed, "
        f"expected each closed: `with conn:` commits but does not close (use closing(connect()))"
    )


# Task 2 — the client has its answer before any task runs


@pytest.mark.task(2)
def test_the_response_goes_out_before_any_notification_is_stored(store):
    stored_when_answered: list[list[Row]] = []

    def on_send(message: dict[str, Any]) -> None:
        if is_last_body(message):
            stored_when_answered.append(notifications(store))

    with TestClient(kata.app) as client:
        slow_down_the_first_notification(store)
        sent = client.portal.call(call_app, "POST", "/users", {"email": ADA}, on_send)
    status, body = answer(sent)
    assert (status, body) == (201, {"id": 1, "email": ADA}), (
        f"POST /users → {status} {body}, expected 201 {{'id': 1, 'email': {ADA!r}}}"
    )
    assert stored_when_answered == [[]], (
        f"POST /users → notifications {stored_when_answered[0]} were already stored when the "
        f"response body went out, expected none yet: the endpoint must not write any itself"
    )
    stored = notifications(store)
    assert (ADA, WELCOME) in stored, (
        f"POST /users → notifications {stored} once the app finished, expected a "
        f"({ADA!r}, {WELCOME!r}) row written after the response"
    )


# Task 3 — several tasks run one after another, in the order added


@pytest.mark.task(3)
def test_each_welcome_is_followed_by_its_admin_note(client, store):
    sign_up(client, ADA)
    sign_up(client, BOB)
    from_the_endpoint = [row for row in notifications(store) if row[0] != OPS]
    expected = [
        (ADA, WELCOME),
        (ADMIN, "New user: ada@example.com"),
        (BOB, WELCOME),
        (ADMIN, "New user: bob@example.com"),
    ]
    assert from_the_endpoint == expected, (
        f"POST /users for ada, then bob → notifications {from_the_endpoint}, expected "
        f"{expected}: for each signup the welcome, then the admin note"
    )


# Task 4 — a dependency adds a task too, and it runs first


@pytest.mark.task(4)
def test_the_audit_line_comes_before_the_endpoint_tasks(client, store):
    sign_up(client, ADA)
    stored = notifications(store)
    expected = [
        (OPS, "POST /users"),
        (ADA, WELCOME),
        (ADMIN, "New user: ada@example.com"),
    ]
    assert stored == expected, (
        f"POST /users → notifications {stored}, expected {expected}: the audit dependency's "
        f"task is added before the endpoint's, so it runs first"
    )


@pytest.mark.task(4)
def test_the_audit_guards_delete_too_and_names_the_path_without_the_query(client, store):
    for path in ["/users/7?hard=1", "/users/42"]:
        response = client.delete(path)
        assert response.status_code == 204, f"DELETE {path} → {response.status_code}, expected 204"
    stored = notifications(store)
    expected = [(OPS, "DELETE /users/7"), (OPS, "DELETE /users/42")]
    assert stored == expected, (
        f"DELETE /users/7?hard=1, then DELETE /users/42 → notifications {stored}, expected "
        f"{expected}: '<METHOD> <path>' from the request, the path without its query string"
    )


# Task 5 — a failing task is logged and does not stop the others


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("email", "failure"),
    [
        pytest.param(BOUNCE, "an IntegrityError", id="integrity-error"),
        pytest.param(FLAKY, "an OperationalError", id="operational-error"),
    ],
)
def test_a_failed_notification_is_logged_and_the_next_task_still_runs(store, email, failure):
    # raise_server_exceptions=False: see what a real client sees, even if a task raises.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        refuse_notifications(store)
        response = client.post("/users", json={"email": email})
    assert (response.status_code, response.json()) == (201, {"id": 1, "email": email}), (
        f"POST /users {{'email': {email!r}}} → {response.status_code} {response.json()}, "
        f"expected 201 {{'id': 1, 'email': {email!r}}} even though its welcome task fails"
    )
    admin_note = (ADMIN, f"New user: {email}")
    stored = notifications(store)
    assert admin_note in stored, (
        f"POST /users {{'email': {email!r}}} (its welcome fails with {failure}) → notifications "
        f"{stored}, expected {admin_note} too: a task that raises stops every task after it"
    )
    errors = errors_logged(store)
    assert any(email in line for line in errors), (
        f"POST /users {{'email': {email!r}}} (its welcome fails with {failure}) → ERROR lines "
        f"logged {errors}, expected one whose message names {email}"
    )


# Task 6 — the request's connection is released early; tasks open their own


@pytest.mark.task(6)
@pytest.mark.white_box  # which connection is which can only be seen inside the app
def test_the_request_connection_is_closed_before_the_response_is_sent(client, store, tracked):
    for method, path, payload in [("POST", "/users", {"email": ADA}), ("DELETE", "/users/1", None)]:
        tracked.clear()
        closed_when_answered: list[bool] = []

        def on_send(message: dict[str, Any], seen: list[bool] = closed_when_answered) -> None:
            if is_last_body(message):
                seen.extend(conn.explicitly_closed for conn in tracked)

        client.portal.call(call_app, method, path, payload, on_send)
        opened = list(tracked)
        assert closed_when_answered, (
            f"{method} {path} opened no connection before its response, expected the "
            f"request's own (Db)"
        )
        assert all(closed_when_answered), (
            f"{method} {path} → the request's connection was still open when the response went "
            f"out, expected it closed as soon as the endpoint returns (before the response and "
            f"the tasks)"
        )
        left_open = [conn for conn in opened if not conn.explicitly_closed]
        assert not left_open, (
            f"{method} {path} → {len(left_open)} of the {len(opened)} connections it opened "
            f"still open once its tasks were done, expected every one closed: each task opens "
            f"its own and closes it"
        )
    stored = notifications(store)
    assert (ADA, WELCOME) in stored, (
        f"POST /users → notifications {stored}, expected the welcome row, written on the task's "
        f"own connection"
    )


@pytest.mark.task(6)
@pytest.mark.white_box  # spies on what the app hands to add_task
def test_no_task_is_handed_the_request_connection(client, store, monkeypatch):
    handed: list[str] = []
    add_task = BackgroundTasks.add_task

    def spy(self, func, *args, **kwargs):
        if any(isinstance(a, sqlite3.Connection) for a in (*args, *kwargs.values())):
            handed.append(getattr(func, "__name__", repr(func)))
        return add_task(self, func, *args, **kwargs)

    monkeypatch.setattr(BackgroundTasks, "add_task", spy)
    sign_up(client, ADA)
    assert not handed, (
        f"POST /users → add_task({handed[0] if handed else ''}, <sqlite3.Connection>, ...), "
        f"expected no connection passed to a task: it opens its own with connect()"
    )
    stored = notifications(store)
    assert (ADA, WELCOME) in stored, (
        f"POST /users → notifications {stored}, expected the welcome row written on the task's "
        f"own connection"
    )
