import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone

import bcrypt
import pytest
from fastapi.testclient import TestClient
from jose import jwt

import app as kata
import config
import db
import notes

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

SECRET = "test-secret-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Every test gets its own database and audit log, and cheap bcrypt hashes."""
    monkeypatch.setenv("NOTES_DATABASE", str(tmp_path / "notes.db"))
    monkeypatch.setenv("NOTES_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("NOTES_SECRET_KEY", SECRET)
    monkeypatch.setenv("NOTES_BCRYPT_ROUNDS", "4")
    config.get_settings.cache_clear()
    yield config.get_settings()
    config.get_settings.cache_clear()


@pytest.fixture
def client(settings):
    # A crash comes back as a 500 response, so the assertion can say what came back.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def query(settings, sql, *params):
    """Rows straight from the test database, behind the app's back."""
    with closing(sqlite3.connect(settings.database)) as conn:
        return conn.execute(sql, params).fetchall()


def body_of(r):
    """The JSON body of `r`, or its text when it is not JSON (a crash's 500, say)."""
    try:
        return r.json()
    except ValueError:
        return r.text


def register(client, username, password=PASSWORD):
    return client.post("/auth/register", json={"username": username, "password": password})


def login(client, username, password=PASSWORD):
    return client.post("/auth/token", data={"username": username, "password": password})


def signed_in(client, username):
    """Register `username`, log in, and return the headers that carry the token."""
    r = register(client, username)
    assert r.status_code == 201, f"POST /auth/register {username} → {r.status_code}, expected 201"
    r = login(client, username)
    assert r.status_code == 200, f"POST /auth/token {username} → {r.status_code}, expected 200"
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def create_note(client, headers, title, body=""):
    r = client.post("/notes", json={"title": title, "body": body}, headers=headers)
    assert r.status_code == 201, f"POST /notes {title!r} → {r.status_code} {r.text}, expected 201"
    return r.json()


def seed_notes(settings, username, titles):
    """Insert notes for `username` straight into the database, in one transaction."""
    with closing(sqlite3.connect(settings.database)) as conn, conn:
        (owner_id,) = conn.execute(
            "SELECT id FROM users WHERE username = ?", (username,)
        ).fetchone()
        conn.executemany(
            "INSERT INTO notes (owner_id, title, body) VALUES (?, ?, '')",
            [(owner_id, title) for title in titles],
        )


def token_for(username, *, key=SECRET, algorithm="HS256", minutes=30):
    expires = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    return jwt.encode({"sub": username, "exp": expires}, key, algorithm=algorithm)


# Task 1 — A database connection per request


@pytest.mark.task(1)
def test_startup_creates_the_tables(settings):
    with TestClient(kata.app):
        pass
    tables = {name for (name,) in query(settings, "SELECT name FROM sqlite_master")}
    assert {"users", "notes"} <= tables, (
        f"after startup the database has tables {sorted(tables)}, expected users and notes"
    )


@pytest.mark.task(1)
def test_get_db_yields_rows_by_column_name_and_closes_after(settings):
    with contextmanager(db.get_db)(settings) as conn:
        row = conn.execute("SELECT 1 AS one").fetchone()
        assert isinstance(row, sqlite3.Row), (
            f"get_db's connection returned a {type(row).__name__} row, expected sqlite3.Row"
        )
    with pytest.raises(sqlite3.ProgrammingError):  # "Cannot operate on a closed database"
        conn.execute("SELECT 1")


@pytest.mark.task(1)
def test_get_db_connection_works_from_another_thread(settings):
    # FastAPI may run a sync dependency and the sync route that uses it in different threads.
    with contextmanager(db.get_db)(settings) as conn, ThreadPoolExecutor(1) as pool:
        error = pool.submit(conn.execute, "SELECT 1").exception()
    assert error is None, f"using get_db's connection from another thread → {error!r}"


@pytest.mark.task(1)
def test_get_db_commits_when_the_request_succeeds(settings):
    db.init_db(settings.database)
    with contextmanager(db.get_db)(settings) as conn:
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('kept', 'x')")
    rows = query(settings, "SELECT username FROM users")
    assert rows == [("kept",)], (
        f"a write through get_db, then success → users {rows}, expected it kept"
    )


@pytest.mark.task(1)
def test_get_db_rolls_back_when_the_request_fails(settings):
    db.init_db(settings.database)
    with pytest.raises(RuntimeError), contextmanager(db.get_db)(settings) as conn:
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('lost', 'x')")
        raise RuntimeError("the route failed")
    rows = query(settings, "SELECT username FROM users")
    assert rows == [], f"a write through get_db, then an error → users {rows}, expected none"


# Task 2 — Register with a hashed password


@pytest.mark.task(2)
def test_register_answers_the_user_without_the_password(client):
    r = register(client, "alice")
    assert r.status_code == 201, f"POST /auth/register → {r.status_code} {r.text}, expected 201"
    body = r.json()
    assert set(body) == {"id", "username"} and body["username"] == "alice", (
        f"POST /auth/register → {body}, expected exactly id and username"
    )
    assert isinstance(body["id"], int), f"id is {body['id']!r}, expected an integer"


@pytest.mark.task(2)
@pytest.mark.parametrize("rounds", [4, 5])
def test_password_is_stored_as_a_bcrypt_hash_of_the_configured_cost(settings, monkeypatch, rounds):
    monkeypatch.setenv("NOTES_BCRYPT_ROUNDS", str(rounds))
    config.get_settings.cache_clear()
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = register(client, "alice")
    assert r.status_code == 201, f"POST /auth/register → {r.status_code}, expected 201"
    rows = query(settings, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert rows, "after registering alice there is no users row for alice"
    stored, prefix = rows[0][0], f"$2b$0{rounds}$"
    assert stored.startswith(prefix), (
        f"with NOTES_BCRYPT_ROUNDS={rounds} the stored password_hash starts {stored[:7]!r}, "
        f"expected {prefix!r} (bcrypt at that cost)"
    )
    assert bcrypt.checkpw(PASSWORD.encode(), stored.encode()), "the stored hash does not match"


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "body",
    [
        {"username": "al", "password": PASSWORD},
        {"username": "a" * 31, "password": PASSWORD},
        {"username": "Alice", "password": PASSWORD},
        {"username": "alice smith", "password": PASSWORD},
        {"username": "alice", "password": "short"},
        {"username": "alice"},
    ],
    ids=["2-char-name", "31-char-name", "capital", "space", "short-password", "no-password"],
)
def test_register_validates_the_body(client, body):
    r = client.post("/auth/register", json=body)
    assert r.status_code == 422, f"POST /auth/register {body} → {r.status_code}, expected 422"


@pytest.mark.task(2)
def test_taken_username_is_409(client):
    register(client, "alice")
    r = register(client, "alice", "another password")
    assert r.status_code == 409, f"registering alice twice → {r.status_code}, expected 409"


# Task 3 — Log in with a JWT


@pytest.mark.task(3)
def test_login_returns_a_bearer_jwt(client):
    register(client, "alice")
    r = login(client, "alice")
    assert r.status_code == 200, f"POST /auth/token → {r.status_code} {r.text}, expected 200"
    body = r.json()
    assert body.get("token_type") == "bearer", f"token_type is {body.get('token_type')!r}"
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims.get("sub") == "alice", f"token claims {claims}, expected sub 'alice'"
    minutes = (claims.get("exp", 0) - time.time()) / 60
    assert 25 < minutes <= 30, f"token expires in {minutes:.1f} minutes, expected 30"


@pytest.mark.task(3)
def test_bad_login_is_400_and_does_not_say_why(client):
    register(client, "alice")
    wrong_password = login(client, "alice", "not the password")
    unknown_user = login(client, "mallory")
    for what, r in [("a wrong password", wrong_password), ("an unknown user", unknown_user)]:
        assert r.status_code == 400, f"POST /auth/token with {what} → {r.status_code}, expected 400"
    assert body_of(wrong_password) == body_of(unknown_user), (
        f"wrong password → {body_of(wrong_password)}, unknown user → {body_of(unknown_user)}, "
        "expected the same body"
    )


@pytest.mark.task(3)
def test_me_answers_the_token_owner(client):
    headers = signed_in(client, "alice")
    r = client.get("/auth/me", headers=headers)
    assert r.status_code == 200, f"GET /auth/me with alice's token → {r.status_code}, expected 200"
    assert body_of(r) == {"id": 1, "username": "alice"}, (
        f"GET /auth/me → {body_of(r)}, expected {{'id': 1, 'username': 'alice'}}"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    "what",
    ["no token", "garbage", "a wrong key", "an expired token", "HS512", "an unknown user"],
)
def test_bad_token_is_401_with_www_authenticate(client, what):
    register(client, "alice")
    token = {
        "garbage": "not.a.jwt",
        "a wrong key": token_for("alice", key="some-other-secret-0123456789abcdef"),
        "an expired token": token_for("alice", minutes=-1),
        "HS512": token_for("alice", algorithm="HS512"),  # the right key, an algorithm we never use
        "an unknown user": token_for("mallory"),
    }.get(what)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.get("/auth/me", headers=headers)
    assert r.status_code == 401, f"GET /auth/me with {what} → {r.status_code}, expected 401"
    assert r.headers.get("www-authenticate") == "Bearer", (
        f"GET /auth/me with {what} → WWW-Authenticate {r.headers.get('www-authenticate')!r}, "
        "expected 'Bearer'"
    )


# Task 4 — Notes that only their owner can see


@pytest.mark.task(4)
def test_create_and_read_your_note(client):
    alice = signed_in(client, "alice")
    note = create_note(client, alice, "Groceries", "milk, eggs")
    assert set(note) == {"id", "title", "body"} and note["title"] == "Groceries", (
        f"POST /notes → {note}, expected id, title and body"
    )
    r = client.get(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 200, f"GET /notes/{note['id']} (own) → {r.status_code}, expected 200"
    assert r.json() == note, f"GET /notes/{note['id']} → {r.json()}, expected {note}"


@pytest.mark.task(4)
@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 101},
        {"title": "ok", "body": "x" * 10_001},
        {"body": "no title"},
    ],
    ids=["empty-title", "101-char-title", "10001-char-body", "no-title"],
)
def test_create_note_validates_the_body(client, body):
    alice = signed_in(client, "alice")
    r = client.post("/notes", json=body, headers=alice)
    assert r.status_code == 422, f"POST /notes {str(body)[:60]} → {r.status_code}, expected 422"


@pytest.mark.task(4)
def test_notes_need_a_token(client):
    for method, path in [("POST", "/notes"), ("GET", "/notes"), ("GET", "/notes/1")]:
        r = client.request(method, path, json={"title": "x"} if method == "POST" else None)
        assert r.status_code == 401, (
            f"{method} {path} without a token → {r.status_code}, expected 401"
        )


@pytest.mark.task(4)
def test_someone_elses_note_is_404_exactly_like_a_missing_one(client):
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    note = create_note(client, alice, "Diary")
    theirs = client.get(f"/notes/{note['id']}", headers=bob)
    missing = client.get("/notes/424242", headers=bob)
    assert theirs.status_code == 404, (
        f"bob GET alice's /notes/{note['id']} → {theirs.status_code}, expected 404 (not 403: "
        "that would tell bob the note exists)"
    )
    assert body_of(theirs) == body_of(missing), (
        f"bob GET alice's note → {body_of(theirs)}, a missing one → {body_of(missing)}, expected the same"
    )


@pytest.mark.task(4)
def test_delete_your_note(client):
    alice = signed_in(client, "alice")
    note = create_note(client, alice, "Old")
    r = client.delete(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 204, f"DELETE /notes/{note['id']} (own) → {r.status_code}, expected 204"
    assert r.content == b"", f"DELETE → body {r.content!r}, expected none"
    r = client.get(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 404, (
        f"GET /notes/{note['id']} after DELETE → {r.status_code}, expected 404"
    )


@pytest.mark.task(4)
def test_cannot_delete_someone_elses_note(client):
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    note = create_note(client, alice, "Keep me")
    r = client.delete(f"/notes/{note['id']}", headers=bob)
    assert r.status_code == 404, f"bob DELETE alice's note → {r.status_code}, expected 404"
    r = client.get(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 200, (
        f"alice GET her note after bob's DELETE → {r.status_code}, expected 200"
    )


# Task 5 — Pagination


@pytest.mark.task(5)
def test_pages_walk_through_your_notes_in_order(client, settings):
    alice, _ = signed_in(client, "alice"), signed_in(client, "bob")
    seed_notes(settings, "bob", ["b1"])
    seed_notes(settings, "alice", ["a1", "a2", "a3"])
    seed_notes(settings, "bob", ["b2"])
    seed_notes(settings, "alice", ["a4", "a5"])
    pages = {}
    for offset in (0, 2, 4, 6):
        r = client.get("/notes", params={"limit": 2, "offset": offset}, headers=alice)
        assert r.status_code == 200, f"GET /notes?limit=2&offset={offset} → {r.status_code}"
        page = r.json()
        pages[offset] = [note["title"] for note in page["items"]]
        expected = {"total": 5, "limit": 2, "offset": offset}
        got = {key: page.get(key) for key in expected}
        assert got == expected, f"GET /notes?limit=2&offset={offset} → {got}, expected {expected}"
    expected = {0: ["a1", "a2"], 2: ["a3", "a4"], 4: ["a5"], 6: []}
    assert pages == expected, f"alice's pages of 2 hold {pages}, expected {expected}"


@pytest.mark.task(5)
def test_default_page_is_the_first_ten(client, settings):
    alice = signed_in(client, "alice")
    seed_notes(settings, "alice", [f"n{n}" for n in range(12)])
    r = client.get("/notes", headers=alice)
    assert r.status_code == 200, f"GET /notes → {r.status_code} {body_of(r)}, expected 200"
    page = r.json()
    got = {
        "items": len(page.get("items", [])),
        "limit": page.get("limit"),
        "offset": page.get("offset"),
    }
    expected = {"items": 10, "limit": 10, "offset": 0}
    assert got == expected, f"GET /notes with 12 notes → {got}, expected {expected}"


@pytest.mark.task(5)
@pytest.mark.parametrize("params", ["limit=0", "limit=101", "offset=-1", "limit=ten"])
def test_bad_paging_is_422(client, params):
    alice = signed_in(client, "alice")
    r = client.get(f"/notes?{params}", headers=alice)
    assert r.status_code == 422, f"GET /notes?{params} → {r.status_code}, expected 422"


# Task 6 — An audit log written in the background


def audit_lines(settings):
    try:
        with open(settings.audit_log, encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]
    except FileNotFoundError:
        return []


@pytest.mark.task(6)
def test_write_audit_appends_one_json_line_per_call(tmp_path):
    path = str(tmp_path / "audit.log")
    notes.write_audit(path, "alice", "create", 1)
    notes.write_audit(path, "bob", "delete", 2)
    with open(path, encoding="utf-8") as log:
        lines = [json.loads(line) for line in log]
    expected = [
        {"user": "alice", "action": "create", "note_id": 1},
        {"user": "bob", "action": "delete", "note_id": 2},
    ]
    assert lines == expected, f"two write_audit calls wrote {lines}, expected {expected}"


@pytest.mark.task(6)
def test_create_and_delete_are_audited(client, settings):
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    note = create_note(client, alice, "Audited")
    client.delete(f"/notes/{note['id']}", headers=bob)  # 404: not bob's, so not audited
    client.post("/notes", json={"title": ""}, headers=alice)  # 422: not created, not audited
    client.delete(f"/notes/{note['id']}", headers=alice)
    expected = [
        {"user": "alice", "action": "create", "note_id": note["id"]},
        {"user": "alice", "action": "delete", "note_id": note["id"]},
    ]
    lines = audit_lines(settings)
    assert lines == expected, (
        f"audit log after create, 2 failures, delete → {lines}, expected {expected}"
    )


@pytest.mark.task(6)
def test_audit_runs_after_the_response(client, monkeypatch):
    alice = signed_in(client, "alice")

    def broken_audit(*args, **kwargs):
        raise OSError("the audit disk is full")

    monkeypatch.setattr(notes, "write_audit", broken_audit)
    # A background task runs after the response is sent: its failure cannot turn a 201 into a 500.
    r = client.post("/notes", json={"title": "Still saved"}, headers=alice)
    assert r.status_code == 201, (
        f"POST /notes while write_audit fails → {r.status_code}, expected 201: the audit should "
        "be a background task, not part of the request"
    )


# Task 7 — Routers and one error shape


@pytest.mark.task(7)
def test_missing_note_has_our_error_shape(client):
    alice = signed_in(client, "alice")
    r = client.get("/notes/424242", headers=alice)
    expected = {"error": {"code": "note_not_found", "message": "Note not found"}}
    assert (r.status_code, body_of(r)) == (404, expected), (
        f"GET /notes/424242 → {r.status_code} {body_of(r)}, expected 404 {expected}"
    )


@pytest.mark.task(7)
def test_taken_username_has_our_error_shape(client):
    register(client, "alice")
    r = register(client, "alice")
    body = body_of(r)
    error = body.get("error") if isinstance(body, dict) else None
    assert r.status_code == 409 and isinstance(error, dict), (
        f"registering alice twice → {r.status_code} {body}, expected 409 {{'error': {{...}}}}"
    )
    assert error.get("code") == "username_taken" and isinstance(error.get("message"), str), (
        f"registering alice twice → error {error}, expected code 'username_taken' and a message"
    )


@pytest.mark.task(7)
def test_auth_errors_keep_their_own_shape(client):
    r = client.get("/notes")
    assert (r.status_code, r.headers.get("www-authenticate")) == (401, "Bearer"), (
        f"GET /notes without a token → {r.status_code} WWW-Authenticate "
        f"{r.headers.get('www-authenticate')!r}, expected 401 'Bearer'"
    )
    assert "detail" in body_of(r), f"GET /notes without a token → {body_of(r)}, expected a detail"


@pytest.mark.task(7)
def test_openapi_groups_the_routes_by_router_tag(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("post", "/auth/register"): ["auth"],
        ("post", "/auth/token"): ["auth"],
        ("get", "/auth/me"): ["auth"],
        ("post", "/notes"): ["notes"],
        ("get", "/notes"): ["notes"],
        ("get", "/notes/{note_id}"): ["notes"],
        ("delete", "/notes/{note_id}"): ["notes"],
    }
    got = {key: paths.get(key[1], {}).get(key[0], {}).get("tags") for key in expected}
    assert got == expected, f"tags in /openapi.json → {got}, expected {expected}"


# Task 8 — Keep the event loop free


@pytest.mark.task(8)
def test_a_slow_database_does_not_block_other_requests(client, settings, monkeypatch):
    alice = signed_in(client, "alice")
    create_note(client, alice, "Any")

    def slow_db():
        # Like get_db, but every SQL statement takes 0.1 s, as on a busy database server.
        conn = sqlite3.connect(settings.database, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.set_trace_callback(lambda statement: time.sleep(0.1))
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    monkeypatch.setitem(kata.app.dependency_overrides, db.get_db, slow_db)

    def timed_get():
        start = time.perf_counter()
        r = client.get("/notes", headers=alice)
        assert r.status_code == 200, f"GET /notes → {r.status_code} {r.text}, expected 200"
        return time.perf_counter() - start

    one = timed_get()
    assert one >= 0.1, (
        f"GET /notes took {one:.2f} s with a 0.1 s-per-statement database: no get_db?"
    )
    start = time.perf_counter()
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda _: timed_get(), range(5)))
    five = time.perf_counter() - start
    assert five < 2.5 * one, (
        f"5 concurrent GET /notes took {five:.2f} s, one alone {one:.2f} s: blocking SQL inside "
        "`async def` makes requests wait in line (expected well under 5×)"
    )
