"""Kata 11 · Capstone — what the notes service must do. Run: nox -s capstone

The app runs as it would in production: configured through NOTES_* variables, started with its
lifespan, driven over HTTP. What it writes (the SQLite file, the audit log) lives in the test's
tmp_path, where the tests read it. Tokens are made and checked with python-jose and hashes with
bcrypt right here, never through the kata's own helpers. Only the test of get_db's connection
object looks inside the kata's modules (it is marked white_box).
"""

import asyncio
import base64
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager, nullcontext
from datetime import datetime, timedelta, timezone

import bcrypt
import pytest
from fastapi.testclient import TestClient
from jose import jwt

import app as kata
import config  # white-box only
import db  # white-box only

SECRET = "test-secret-0123456789abcdef0123456789"
PASSWORD = "correct horse battery"
BAD_LOGIN = {"detail": "Incorrect username or password"}
NOTE_NOT_FOUND = {"error": {"code": "note_not_found", "message": "Note not found"}}

# The tables as the README describes them, for tests that prepare the database themselves.
TABLES = """
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE notes (
    id       INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    title    TEXT NOT NULL,
    body     TEXT NOT NULL
);
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Settings for this test's app: its own database and audit log, cheap bcrypt hashes."""
    work = tmp_path / "work"  # the app's working folder: nothing should land here
    work.mkdir()
    monkeypatch.chdir(work)
    paths = {"database": tmp_path / "capstone.db", "audit_log": tmp_path / "audit.log"}
    monkeypatch.setenv("NOTES_DATABASE", str(paths["database"]))
    monkeypatch.setenv("NOTES_AUDIT_LOG", str(paths["audit_log"]))
    monkeypatch.setenv("NOTES_SECRET_KEY", SECRET)
    monkeypatch.setenv("NOTES_BCRYPT_ROUNDS", "4")
    monkeypatch.delenv("NOTES_ACCESS_TOKEN_MINUTES", raising=False)
    return paths


@contextmanager
def started():
    """The app, started with its lifespan. A crash comes back as a 500 the test can describe."""
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(env):
    with started() as client:
        yield client


def query(env, sql, *params):
    """Rows straight from the app's database file, behind its back."""
    with closing(sqlite3.connect(env["database"])) as conn:
        return conn.execute(sql, params).fetchall()


def prepare_database(env, *extra_sql):
    """Create the tables (and `extra_sql`) before the app starts; its init_db leaves them."""
    with closing(sqlite3.connect(env["database"])) as conn:
        conn.executescript(TABLES + "".join(extra_sql))


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
    assert r.status_code == 201, (
        f"POST /auth/register {username} → {r.status_code} {body_of(r)}, expected 201"
    )
    r = login(client, username)
    assert r.status_code == 200, (
        f"POST /auth/token {username} → {r.status_code} {body_of(r)}, expected 200"
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def create_note(client, headers, title, body=""):
    r = client.post("/notes", json={"title": title, "body": body}, headers=headers)
    assert r.status_code == 201, (
        f"POST /notes {title!r} → {r.status_code} {body_of(r)}, expected 201"
    )
    return r.json()


def seed_notes(env, username, titles):
    """Insert notes for `username` straight into the database, in one transaction."""
    with closing(sqlite3.connect(env["database"])) as conn, conn:
        (owner_id,) = conn.execute(
            "SELECT id FROM users WHERE username = ?", (username,)
        ).fetchone()
        conn.executemany(
            "INSERT INTO notes (owner_id, title, body) VALUES (?, ?, '')",
            [(owner_id, title) for title in titles],
        )


def token_for(sub, *, key=SECRET, algorithm="HS256", minutes=30, leave_out=()):
    claims = {"sub": sub, "exp": datetime.now(timezone.utc) + timedelta(minutes=minutes)}
    for name in leave_out:
        del claims[name]
    return jwt.encode(claims, key, algorithm=algorithm)


def unsigned_token(sub):
    """A token with `alg: none` and no signature at all."""

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"sub": sub, "exp": int(time.time()) + 1800}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# Task 1 — A database connection per request


@pytest.mark.task(1)
def test_startup_creates_the_tables_in_NOTES_DATABASE(env):
    with started():
        pass
    assert env["database"].exists(), (
        f"after startup there is no file at NOTES_DATABASE ({env['database'].name}): the "
        "lifespan should create the tables in get_settings().database"
    )
    tables = {name for (name,) in query(env, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "notes"} <= tables, (
        f"after startup the database has tables {sorted(tables)}, expected users and notes"
    )


@pytest.mark.task(1)
def test_a_successful_request_is_committed(client, env):
    r = register(client, "alice")
    assert r.status_code == 201, (
        f"POST /auth/register alice → {r.status_code} {body_of(r)}, expected 201"
    )
    rows = query(env, "SELECT username FROM users")
    assert rows == [("alice",)], (
        f"after POST /auth/register alice → 201, the database file holds users {rows}, "
        "expected [('alice',)]: get_db should commit when the request succeeds"
    )


@pytest.mark.task(1)
def test_a_request_that_fails_after_a_write_is_rolled_back(env):
    # For the user 'tripwire' a trigger first writes a row, then makes the INSERT fail:
    # the request has written something and then fails with sqlite3.IntegrityError.
    prepare_database(
        env,
        "CREATE TABLE tripwire (hit INTEGER);",
        "CREATE TRIGGER trip BEFORE INSERT ON users WHEN NEW.username = 'tripwire' "
        "BEGIN INSERT INTO tripwire VALUES (1); SELECT RAISE(FAIL, 'tripwire'); END;",
    )
    with started() as client:
        ok = register(client, "alice")
        failed = register(client, "tripwire")
    assert ok.status_code == 201, (
        f"POST /auth/register alice → {ok.status_code} {body_of(ok)}, expected 201"
    )
    assert failed.status_code >= 400, (
        f"POST /auth/register tripwire → {failed.status_code}, expected an error: the INSERT failed"
    )
    kept = query(env, "SELECT hit FROM tripwire")
    assert kept == [], (
        f"POST /auth/register tripwire wrote a row, then failed with {failed.status_code}; the "
        f"database kept {kept}, expected nothing: get_db should roll back when the request fails"
    )


@pytest.mark.task(1)
@pytest.mark.white_box
def test_get_db_opens_the_given_database_reads_rows_by_name_and_always_closes(env, tmp_path):
    # NOTES_DATABASE names another file: get_db must use the settings it is handed.
    other = tmp_path / "other.db"
    settings = config.Settings(database=str(other))
    with contextmanager(db.get_db)(settings) as conn, ThreadPoolExecutor(1) as pool:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
        row = conn.execute("SELECT x FROM t").fetchone()
        assert isinstance(row, sqlite3.Row), (
            f"get_db's connection returned a {type(row).__name__} row, expected sqlite3.Row"
        )
        # FastAPI may run a sync dependency and the sync route that uses it in different threads.
        error = pool.submit(conn.execute, "SELECT 1").exception()
        assert error is None, f"using get_db's connection from another thread → {error!r}"
    with pytest.raises(sqlite3.ProgrammingError):  # "Cannot operate on a closed database"
        conn.execute("SELECT 1")
    assert other.exists() and not env["database"].exists(), (
        "get_db(Settings(database=<other file>)) did not write to that file: it should open "
        "settings.database of the settings it is given, not call get_settings() itself"
    )
    with closing(sqlite3.connect(other)) as check:
        kept = check.execute("SELECT x FROM t").fetchall()
    assert kept == [(1,)], f"a write through get_db, then success → rows {kept}, expected it kept"
    with pytest.raises(RuntimeError), contextmanager(db.get_db)(settings) as failed:
        raise RuntimeError("the route failed")
    with pytest.raises(sqlite3.ProgrammingError):
        failed.execute("SELECT 1")  # closed after a failure too


# Task 2 — Register with a bcrypt hash


@pytest.mark.task(2)
def test_register_answers_the_new_user_without_the_password(client, env):
    r = register(client, "alice")
    assert r.status_code == 201, f"POST /auth/register → {r.status_code} {body_of(r)}, expected 201"
    rows = query(env, "SELECT id FROM users WHERE username = 'alice'")
    assert rows, "after POST /auth/register alice → 201 there is no users row for alice"
    expected = {"id": rows[0][0], "username": "alice"}
    assert body_of(r) == expected, f"POST /auth/register → {body_of(r)}, expected {expected}"


@pytest.mark.task(2)
@pytest.mark.parametrize("rounds", [4, 5])
def test_password_is_stored_as_a_salted_bcrypt_hash_of_the_configured_cost(
    env, monkeypatch, rounds
):
    monkeypatch.setenv("NOTES_BCRYPT_ROUNDS", str(rounds))
    with started() as client:
        for name in ("alice", "bob"):
            r = register(client, name)
            assert r.status_code == 201, (
                f"POST /auth/register {name} → {r.status_code}, expected 201"
            )
    stored = dict(query(env, "SELECT username, password_hash FROM users"))
    prefix = f"$2b$0{rounds}$"
    for name, hashed in stored.items():
        assert hashed.startswith(prefix), (
            f"with NOTES_BCRYPT_ROUNDS={rounds} {name}'s password_hash starts {hashed[:7]!r}, "
            f"expected {prefix!r} (bcrypt at that cost)"
        )
        assert bcrypt.checkpw(PASSWORD.encode(), hashed.encode()), (
            f"{name}'s stored hash does not match the password they registered with"
        )
    assert stored["alice"] != stored["bob"], (
        "alice and bob registered the same password and got the same hash: bcrypt salts each one"
    )


def shown(value):
    """A password or a name as a failure message shows it: short, with its length in bytes."""
    if not isinstance(value, str) or len(value) < 20:
        return repr(value)
    return f"{value[:6]!r}… ({len(value)} characters, {len(value.encode())} bytes)"


@pytest.mark.task(2)
def test_register_refuses_a_broken_body_with_422(client, env):
    for body in [
        {"username": "al", "password": PASSWORD},
        {"username": "a" * 31, "password": PASSWORD},
        {"username": "Alice", "password": PASSWORD},
        {"username": "alice smith", "password": PASSWORD},
        {"username": "alice-smith", "password": PASSWORD},
        {"username": "alice", "password": "7 chars"},
        {"username": "alice", "password": "p" * 73},
        {"username": "alice", "password": "é" * 36 + "p"},  # 37 characters, 73 bytes
        {"username": "alice"},
        {"password": PASSWORD},
    ]:
        r = client.post("/auth/register", json=body)
        what = ", ".join(f"{key} {shown(value)}" for key, value in body.items())
        assert r.status_code == 422, (
            f"POST /auth/register with {what} → {r.status_code}, expected 422"
        )
    rows = query(env, "SELECT username FROM users")
    assert rows == [], f"after ten refused registrations users holds {rows}, expected nobody"


@pytest.mark.task(2)
def test_register_accepts_values_on_the_boundary(client, env):
    for username, password in [
        ("abc", PASSWORD),
        ("a" * 30, PASSWORD),
        ("user_007", PASSWORD),
        ("eight", "8 chars!"),
        ("ascii", "p" * 72),
        ("accents", "é" * 36),  # 36 characters, 72 bytes in UTF-8
        ("euros", "€" * 24),  # 24 characters, 72 bytes in UTF-8
    ]:
        r = register(client, username, password)
        assert r.status_code == 201, (
            f"POST /auth/register with username {shown(username)}, password {shown(password)} → "
            f"{r.status_code}, expected 201"
        )
        (hashed,) = query(env, "SELECT password_hash FROM users WHERE username = ?", username)[0]
        assert bcrypt.checkpw(password.encode(), hashed.encode()), (
            f"the stored hash does not match the password {shown(password)}"
        )


@pytest.mark.task(2)
def test_taken_username_is_409_and_keeps_the_first_account(client, env):
    register(client, "alice")
    r = register(client, "alice", "another password")
    assert r.status_code == 409, f"registering alice twice → {r.status_code}, expected 409"
    rows = query(env, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert len(rows) == 1 and bcrypt.checkpw(PASSWORD.encode(), rows[0][0].encode()), (
        f"after registering alice twice users holds {len(rows)} alice row(s), expected exactly "
        "the first one, with its own password"
    )


# Task 3 — Log in with a JWT


@pytest.mark.task(3)
def test_login_answers_an_hs256_bearer_jwt_for_30_minutes(client):
    register(client, "alice")
    r = login(client, "alice")
    assert r.status_code == 200, f"POST /auth/token → {r.status_code} {body_of(r)}, expected 200"
    body = r.json()
    assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer", (
        f"POST /auth/token → {body}, expected {{'access_token': ..., 'token_type': 'bearer'}}"
    )
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", f"the token's header is {header}, expected alg HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])  # raises if not signed with SECRET
    assert claims.get("sub") == "alice", f"token claims {claims}, expected sub 'alice'"
    seconds = claims.get("exp", 0) - time.time()
    assert 30 * 60 - 10 <= seconds <= 30 * 60 + 1, (
        f"the token expires in {seconds / 60:.2f} minutes, expected 30 (the default)"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("minutes", [5, 90])
def test_token_lifetime_comes_from_NOTES_ACCESS_TOKEN_MINUTES(env, monkeypatch, minutes):
    monkeypatch.setenv("NOTES_ACCESS_TOKEN_MINUTES", str(minutes))
    with started() as client:
        register(client, "alice")
        r = login(client, "alice")
    assert r.status_code == 200, f"POST /auth/token → {r.status_code} {body_of(r)}, expected 200"
    claims = jwt.decode(r.json()["access_token"], SECRET, algorithms=["HS256"])
    seconds = claims.get("exp", 0) - time.time()
    assert minutes * 60 - 10 <= seconds <= minutes * 60 + 1, (
        f"with NOTES_ACCESS_TOKEN_MINUTES={minutes} the token expires in {seconds / 60:.2f} "
        f"minutes, expected {minutes}"
    )


@pytest.mark.task(3)
def test_a_bad_login_is_400_with_one_answer_for_every_reason(client):
    register(client, "alice")
    register(client, "bob", "bob's own password")
    attempts = {
        "a wrong password": login(client, "alice", "not the password"),
        "an unknown user": login(client, "mallory"),
        "another user's password": login(client, "alice", "bob's own password"),
        "the username in capitals": login(client, "ALICE"),
    }
    for what, r in attempts.items():
        assert (r.status_code, body_of(r)) == (400, BAD_LOGIN), (
            f"POST /auth/token with {what} → {r.status_code} {body_of(r)}, expected 400 {BAD_LOGIN}"
        )
    for what, r in {
        "no password field": client.post("/auth/token", data={"username": "alice"}),
        "a JSON body": client.post("/auth/token", json={"username": "alice", "password": PASSWORD}),
    }.items():
        assert r.status_code == 422, f"POST /auth/token with {what} → {r.status_code}, expected 422"


@pytest.mark.task(3)
def test_an_unknown_username_costs_one_bcrypt_check_like_a_wrong_password(env, monkeypatch):
    # bcrypt at cost 8 takes tens of milliseconds: skipping it for an unknown user shows, and so
    # does a dummy hash of another cost (each step of the cost doubles the time).
    monkeypatch.setenv("NOTES_BCRYPT_ROUNDS", "8")
    times = {"wrong password": [], "unknown user": []}
    with started() as client:
        register(client, "alice")
        # Interleaved, so both kinds see the same load; the fastest of each counts, so a first
        # call that sets something up (the dummy hash, say) does not.
        for _ in range(7):
            for what, username in (("wrong password", "alice"), ("unknown user", "mallory")):
                start = time.perf_counter()
                r = login(client, username, "not the password")
                times[what].append(time.perf_counter() - start)
                assert (r.status_code, body_of(r)) == (400, BAD_LOGIN), (
                    f"POST /auth/token with a {what} → {r.status_code} {body_of(r)}, "
                    f"expected 400 {BAD_LOGIN}"
                )
    wrong, unknown = min(times["wrong password"]), min(times["unknown user"])
    ratio = unknown / wrong
    assert 0.5 <= ratio <= 1.5, (
        f"a login for an unknown user took {unknown * 1000:.0f} ms, for a wrong password "
        f"{wrong * 1000:.0f} ms (fastest of 7 each, NOTES_BCRYPT_ROUNDS=8), expected about the "
        "same: check the password against a dummy hash made at the configured cost"
        + (" (the unknown user skips bcrypt or uses a cheaper hash)" if ratio < 0.5 else
           " (the dummy hash costs more than the stored ones, or is made on every login)")
    )  # fmt: skip


@pytest.mark.task(3)
def test_me_answers_the_token_owner(client):
    headers = signed_in(client, "alice")
    r = client.get("/auth/me", headers=headers)
    assert (r.status_code, body_of(r)) == (200, {"id": 1, "username": "alice"}), (
        f"GET /auth/me with alice's token → {r.status_code} {body_of(r)}, "
        "expected 200 {'id': 1, 'username': 'alice'}"
    )


@pytest.mark.task(3)
def test_a_bad_token_is_401_with_www_authenticate_bearer(client):
    register(client, "alice")
    for what, token in {
        "no token": None,
        "garbage": "not.a.jwt",
        "a wrong key": token_for("alice", key="some-other-secret-0123456789abcdef"),
        "an expired token": token_for("alice", minutes=-1),
        "HS512": token_for("alice", algorithm="HS512"),  # the right key, another algorithm
        "alg none": unsigned_token("alice"),
        "no exp": token_for("alice", leave_out=["exp"]),
        "no sub": token_for("alice", leave_out=["sub"]),
        "a sub that is not a string": token_for(1),
        "an unknown user": token_for("mallory"),
    }.items():
        r = client.get("/auth/me", headers=bearer(token) if token else {})
        assert r.status_code == 401, (
            f"GET /auth/me with {what} → {r.status_code} {body_of(r)}, expected 401"
        )
        assert r.headers.get("www-authenticate") == "Bearer", (
            f"GET /auth/me with {what} → WWW-Authenticate {r.headers.get('www-authenticate')!r}, "
            "expected 'Bearer'"
        )


# Task 4 — Notes only their owner can see


@pytest.mark.task(4)
def test_create_and_read_your_note(client, env):
    alice = signed_in(client, "alice")
    note = create_note(client, alice, "Groceries", "milk, eggs")
    expected = {"id": note.get("id"), "title": "Groceries", "body": "milk, eggs"}
    assert note == expected and isinstance(note["id"], int), (
        f"POST /notes → {note}, expected {{'id': <int>, 'title': 'Groceries', 'body': 'milk, eggs'}}"
    )
    r = client.get(f"/notes/{note['id']}", headers=alice)
    assert (r.status_code, body_of(r)) == (200, note), (
        f"GET /notes/{note['id']} (own) → {r.status_code} {body_of(r)}, expected 200 {note}"
    )
    rows = query(env, "SELECT owner_id, title, body FROM notes WHERE id = ?", note["id"])
    assert rows == [(1, "Groceries", "milk, eggs")], (
        f"the notes row of note {note['id']} is {rows}, expected [(1, 'Groceries', 'milk, eggs')] "
        "(owned by alice, user 1)"
    )


@pytest.mark.task(4)
def test_body_defaults_to_an_empty_string(client, env):
    alice = signed_in(client, "alice")
    r = client.post("/notes", json={"title": "Just a title"}, headers=alice)
    assert r.status_code == 201, (
        f"POST /notes without a body → {r.status_code} {body_of(r)}, expected 201"
    )
    note = r.json()
    assert note.get("body") == "", f"POST /notes without a body → {note}, expected body ''"
    assert body_of(client.get(f"/notes/{note['id']}", headers=alice)) == note
    rows = query(env, "SELECT body FROM notes WHERE id = ?", note["id"])
    assert rows == [("",)], f"the stored body is {rows}, expected [('',)]"


@pytest.mark.task(4)
def test_create_note_refuses_a_broken_body_with_422(client, env):
    alice = signed_in(client, "alice")
    for body in [
        {"title": ""},
        {"title": "x" * 101},
        {"title": "ok", "body": "x" * 10_001},
        {"body": "no title"},
        {"title": None},
        {"title": "ok", "body": None},
    ]:
        r = client.post("/notes", json=body, headers=alice)
        what = ", ".join(f"{key} {shown(value)}" for key, value in body.items())
        assert r.status_code == 422, f"POST /notes with {what} → {r.status_code}, expected 422"
    rows = query(env, "SELECT title FROM notes")
    assert rows == [], f"after six refused notes the notes table holds {rows}, expected none"


@pytest.mark.task(4)
def test_create_note_accepts_values_on_the_boundary(client):
    alice = signed_in(client, "alice")
    for title, body in [("x", ""), ("x" * 100, "short"), ("ok", "y" * 10_000)]:
        r = client.post("/notes", json={"title": title, "body": body}, headers=alice)
        assert r.status_code == 201, (
            f"POST /notes with a {len(title)}-character title and a {len(body)}-character body "
            f"→ {r.status_code}, expected 201"
        )
        note = r.json()
        assert (note.get("title"), note.get("body")) == (title, body), "the note came back changed"


@pytest.mark.task(4)
@pytest.mark.parametrize("token", ["none", "wrong key"])
def test_every_notes_route_needs_a_valid_token(client, env, token):
    alice = signed_in(client, "alice")
    note = create_note(client, alice, "Mine")
    headers = (
        {} if token == "none" else bearer(token_for("alice", key="another-key-0123456789abcdef"))
    )
    for method, path in [
        ("POST", "/notes"),
        ("GET", "/notes"),
        ("GET", f"/notes/{note['id']}"),
        ("DELETE", f"/notes/{note['id']}"),
    ]:
        r = client.request(
            method, path, json={"title": "x"} if method == "POST" else None, headers=headers
        )
        assert r.status_code == 401, (
            f"{method} {path} with {'no token' if token == 'none' else 'a token signed with another key'}"
            f" → {r.status_code}, expected 401"
        )
    rows = query(env, "SELECT title FROM notes")
    assert rows == [("Mine",)], (
        f"after the refused requests the notes are {rows}, expected [('Mine',)]"
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
        f"bob GET alice's note → {body_of(theirs)}, a missing one → {body_of(missing)}, "
        "expected the same body"
    )


@pytest.mark.task(4)
def test_delete_your_note(client, env):
    alice = signed_in(client, "alice")
    note = create_note(client, alice, "Old")
    r = client.delete(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 204, f"DELETE /notes/{note['id']} (own) → {r.status_code}, expected 204"
    assert r.content == b"", f"DELETE → body {r.content!r}, expected none"
    r = client.get(f"/notes/{note['id']}", headers=alice)
    assert r.status_code == 404, (
        f"GET /notes/{note['id']} after DELETE → {r.status_code}, expected 404"
    )
    assert query(env, "SELECT id FROM notes") == [], "after DELETE the notes row is still there"


@pytest.mark.task(4)
def test_cannot_delete_someone_elses_note(client, env):
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    note = create_note(client, alice, "Keep me")
    theirs = client.delete(f"/notes/{note['id']}", headers=bob)
    missing = client.delete("/notes/424242", headers=bob)
    assert (theirs.status_code, missing.status_code) == (404, 404), (
        f"bob DELETE alice's note → {theirs.status_code}, a missing one → {missing.status_code}, "
        "expected 404 for both"
    )
    assert body_of(theirs) == body_of(missing), (
        f"bob DELETE alice's note → {body_of(theirs)}, a missing one → {body_of(missing)}, "
        "expected the same body"
    )
    rows = query(env, "SELECT title FROM notes")
    assert rows == [("Keep me",)], f"after bob's DELETE the notes are {rows}, expected alice's kept"


@pytest.mark.task(4)
def test_a_note_id_that_is_not_an_integer_is_422(client):
    alice = signed_in(client, "alice")
    for method in ("GET", "DELETE"):
        r = client.request(method, "/notes/abc", headers=alice)
        assert r.status_code == 422, f"{method} /notes/abc → {r.status_code}, expected 422"


# Task 5 — Pagination


@pytest.mark.task(5)
def test_pages_walk_through_your_notes_in_id_order(client, env):
    alice, _ = signed_in(client, "alice"), signed_in(client, "bob")
    # Titles out of alphabetical order, bob's notes between alice's: only id order fits.
    seed_notes(env, "alice", ["delta", "alpha", "echo"])
    seed_notes(env, "bob", ["b1"])
    seed_notes(env, "alice", ["charlie", "bravo"])
    seed_notes(env, "bob", ["b2"])
    ids = dict(query(env, "SELECT title, id FROM notes"))
    pages = {}
    for offset in (0, 2, 4, 6):
        r = client.get("/notes", params={"limit": 2, "offset": offset}, headers=alice)
        assert r.status_code == 200, (
            f"GET /notes?limit=2&offset={offset} → {r.status_code} {body_of(r)}"
        )
        page = r.json()
        pages[offset] = [note.get("title") for note in page.get("items", [])]
        expected = {"total": 5, "limit": 2, "offset": offset}
        got = {key: page.get(key) for key in expected}
        assert got == expected, f"GET /notes?limit=2&offset={offset} → {got}, expected {expected}"
        if offset == 0:
            want = [{"id": ids[t], "title": t, "body": ""} for t in ("delta", "alpha")]
            assert page["items"] == want, (
                f"GET /notes?limit=2 → items {page['items']}, expected {want}"
            )
    expected = {0: ["delta", "alpha"], 2: ["echo", "charlie"], 4: ["bravo"], 6: []}
    assert pages == expected, f"alice's pages of 2 hold {pages}, expected {expected} (by id)"


@pytest.mark.task(5)
def test_the_default_page_is_the_first_ten(client, env):
    alice = signed_in(client, "alice")
    titles = [f"note {n}" for n in (7, 3, 11, 0, 9, 1, 5, 10, 2, 8, 4, 6)]
    seed_notes(env, "alice", titles)
    r = client.get("/notes", headers=alice)
    assert r.status_code == 200, f"GET /notes → {r.status_code} {body_of(r)}, expected 200"
    page = r.json()
    got = {
        "titles": [note.get("title") for note in page.get("items", [])],
        "total": page.get("total"),
        "limit": page.get("limit"),
        "offset": page.get("offset"),
    }
    expected = {"titles": titles[:10], "total": 12, "limit": 10, "offset": 0}
    assert got == expected, f"GET /notes with 12 notes → {got}, expected {expected}"


@pytest.mark.task(5)
def test_limit_1_to_100_and_offset_0_are_accepted(client, env):
    alice = signed_in(client, "alice")
    seed_notes(env, "alice", [f"n{n:03}" for n in range(101)])
    for params, titles in [
        ({"limit": 100}, [f"n{n:03}" for n in range(100)]),
        ({"limit": 1, "offset": 100}, ["n100"]),
        ({"limit": 1, "offset": 0}, ["n000"]),
        ({"limit": 3, "offset": 99}, ["n099", "n100"]),
    ]:
        r = client.get("/notes", params=params, headers=alice)
        query_string = "&".join(f"{k}={v}" for k, v in params.items())
        assert r.status_code == 200, f"GET /notes?{query_string} → {r.status_code}, expected 200"
        page = r.json()
        got = ([note.get("title") for note in page.get("items", [])], page.get("total"))
        assert got == (titles, 101), (
            f"GET /notes?{query_string} → titles {got[0][:3]}… ({len(got[0])}), total {got[1]}; "
            f"expected {titles[:3]}… ({len(titles)}), total 101"
        )


@pytest.mark.task(5)
def test_bad_paging_is_422(client):
    alice = signed_in(client, "alice")
    for params in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "offset=-1",
        "limit=ten",
        "offset=one",
        "limit=1.5",
    ]:
        r = client.get(f"/notes?{params}", headers=alice)
        assert r.status_code == 422, f"GET /notes?{params} → {r.status_code}, expected 422"


# Task 6 — An audit log in the background


@pytest.mark.task(6)
def test_each_successful_create_and_delete_appends_one_json_line(client, env):
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    first = create_note(client, alice, "First")
    second = create_note(client, alice, "Second")
    client.delete(f"/notes/{first['id']}", headers=bob)  # 404: not bob's
    client.delete("/notes/424242", headers=alice)  # 404: no such note
    client.post("/notes", json={"title": ""}, headers=alice)  # 422: not created
    client.post("/notes", json={"title": "x"})  # 401: nobody
    r = client.delete(f"/notes/{first['id']}", headers=alice)
    assert r.status_code == 204, f"DELETE /notes/{first['id']} → {r.status_code}, expected 204"
    expected = [
        {"user": "alice", "action": "create", "note_id": first["id"]},
        {"user": "alice", "action": "create", "note_id": second["id"]},
        {"user": "alice", "action": "delete", "note_id": first["id"]},
    ]
    text = env["audit_log"].read_text(encoding="utf-8") if env["audit_log"].exists() else ""
    try:
        lines = [json.loads(line) for line in text.splitlines()]
    except ValueError:
        lines = None
    assert lines == expected and text.endswith("\n"), (
        f"the audit log after 2 creates, 4 failures and a delete reads {text[:300]!r}, expected "
        f"one JSON object a line, each line ending in a newline: {expected}"
    )


def call_app(method, path, headers, body=b""):
    """Send one request by hand, the way an ASGI server does: ("answered", "done") events.

    TestClient returns only after the background tasks have run; this shows when the response
    itself went out.
    """
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
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    answered, done, sent = threading.Event(), threading.Event(), []

    async def run():
        request_read = False

        async def receive():
            nonlocal request_read
            if not request_read:
                request_read = True
                return {"type": "http.request", "body": body, "more_body": False}
            while not done.is_set():  # the client stays connected until the app is done
                await asyncio.sleep(0.05)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered.set()

        try:
            await kata.app(scope, receive, send)
        finally:
            done.set()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    return answered, done, sent


def read_one_line(fifo, seconds):
    """Open the named pipe for reading (letting a writer that waits for it in) and read a line."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    data, deadline = b"", time.monotonic() + seconds
    try:
        while b"\n" not in data and time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                chunk = b""
            data += chunk
            if not chunk:
                time.sleep(0.02)
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


@pytest.mark.task(6)
@pytest.mark.parametrize("action", ["create", "delete"])
def test_the_response_does_not_wait_for_the_audit_log(env, monkeypatch, tmp_path, action):
    # NOTES_AUDIT_LOG is a named pipe that nobody reads yet: opening it to write waits until
    # someone does. A background task waits after the response; an inline write holds it back.
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("NOTES_AUDIT_LOG", str(fifo))
    with started() as client:
        alice = signed_in(client, "alice")
        note_id = 1
        if action == "delete":
            seed_notes(env, "alice", ["Old"])
        if action == "create":
            method, path, body = "POST", "/notes", json.dumps({"title": "New"}).encode()
            headers = {**alice, "content-type": "application/json"}
        else:
            method, path, body, headers = "DELETE", f"/notes/{note_id}", b"", alice
        answered, done, sent = call_app(method, path, headers, body)
        in_time = answered.wait(timeout=3.0)
        line = read_one_line(fifo, seconds=5.0)
        done.wait(timeout=5.0)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    assert in_time, (
        f"{method} {path} gave no response within 3 s while the audit log could not be written "
        "yet: the audit write runs inside the request, it should be a background task"
    )
    assert status == (201 if action == "create" else 204), (
        f"{method} {path} → {status}, expected {201 if action == 'create' else 204}"
    )
    expected = {"user": "alice", "action": action, "note_id": note_id}
    try:
        written = json.loads(line)
    except ValueError:
        written = None
    assert line.endswith("\n") and written == expected, (
        f"after the response, the audit task wrote {line!r}, expected {json.dumps(expected)} "
        "and a newline"
    )


@pytest.mark.task(6)
def test_a_failing_audit_log_changes_no_response(env, monkeypatch, tmp_path):
    unwritable = tmp_path / "a-folder"  # opening a folder to append raises IsADirectoryError
    unwritable.mkdir()
    monkeypatch.setenv("NOTES_AUDIT_LOG", str(unwritable))
    with started() as client:
        alice = signed_in(client, "alice")
        r = client.post("/notes", json={"title": "Still saved"}, headers=alice)
        assert r.status_code == 201, (
            f"POST /notes while the audit log cannot be written → {r.status_code}, expected 201: "
            "the audit should be a background task, not part of the request"
        )
        note_id = r.json()["id"]
        r = client.delete(f"/notes/{note_id}", headers=alice)
        assert r.status_code == 204, (
            f"DELETE /notes/{note_id} while the audit log cannot be written → {r.status_code}, "
            "expected 204: the audit should be a background task, not part of the request"
        )
    rows = query(env, "SELECT id FROM notes")
    assert rows == [], f"after the create and the delete the notes are {rows}, expected none"


# Task 7 — Routers and one error shape


@pytest.mark.task(7)
def test_a_missing_note_answers_our_error_shape(client):
    alice = signed_in(client, "alice")
    for method in ("GET", "DELETE"):
        r = client.request(method, "/notes/424242", headers=alice)
        assert (r.status_code, body_of(r)) == (404, NOTE_NOT_FOUND), (
            f"{method} /notes/424242 → {r.status_code} {body_of(r)}, expected 404 {NOTE_NOT_FOUND}"
        )


@pytest.mark.task(7)
def test_a_taken_username_answers_our_error_shape(client):
    register(client, "alice")
    r = register(client, "alice")
    body = body_of(r)
    error = body.get("error") if isinstance(body, dict) else None
    assert r.status_code == 409 and set(body) == {"error"} and isinstance(error, dict), (
        f"registering alice twice → {r.status_code} {body}, expected 409 {{'error': {{...}}}}"
    )
    assert set(error) == {"code", "message"} and error["code"] == "username_taken", (
        f"registering alice twice → error {error}, expected code 'username_taken' and a message"
    )
    assert isinstance(error["message"], str) and error["message"], (
        f"the message is {error['message']!r}"
    )


@pytest.mark.task(7)
def test_other_errors_keep_fastapis_detail(client):
    register(client, "alice")
    cases = [
        ("GET /notes without a token", client.get("/notes"), 401, {"detail": "Not authenticated"}),
        (
            "GET /notes with a token signed with another key",
            client.get("/notes", headers=bearer(token_for("alice", key="x" * 32))),
            401,
            {"detail": "Could not validate credentials"},
        ),
        ("POST /auth/token with a wrong password", login(client, "alice", "wrong!!!"), 400, BAD_LOGIN),
    ]  # fmt: skip
    for what, r, status, body in cases:
        assert (r.status_code, body_of(r)) == (status, body), (
            f"{what} → {r.status_code} {body_of(r)}, expected {status} {body}"
        )
        if status == 401:
            assert r.headers.get("www-authenticate") == "Bearer", (
                f"{what} → WWW-Authenticate {r.headers.get('www-authenticate')!r}, expected 'Bearer'"
            )
    r = register(client, "x")
    detail = body_of(r).get("detail") if isinstance(body_of(r), dict) else None
    assert r.status_code == 422 and isinstance(detail, list) and detail, (
        f"POST /auth/register with a 1-char name → {r.status_code} {body_of(r)}, expected 422 "
        "with FastAPI's {'detail': [...]}"
    )


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

HOLD = 1.2  # seconds the test keeps the database locked


@contextmanager
def database_locked(env, kind):
    """Lock the database file from here for HOLD seconds, as another busy client would.

    "write": a write transaction (BEGIN IMMEDIATE) — reads go on, a write waits.
    "read": an open read (BEGIN, SELECT) — reads and writes go on, a COMMIT waits.
    "all": BEGIN EXCLUSIVE — every statement waits, reads too.
    The app's connection waits for it (sqlite3's default timeout is 5 s).
    """
    conn = sqlite3.connect(env["database"], isolation_level=None, check_same_thread=False)
    if kind == "read":
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM users").fetchall()
    else:
        conn.execute("BEGIN IMMEDIATE" if kind == "write" else "BEGIN EXCLUSIVE")
    timer = threading.Timer(HOLD, conn.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.join()
        conn.close()


def slow_notes_view(target_seconds=1.0):
    """SQL that turns `notes` into a view taking about `target_seconds` a query to read."""
    count_to = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) SELECT max(i) FROM c"
    with closing(sqlite3.connect(":memory:")) as conn:
        start = time.perf_counter()
        conn.execute(count_to.format(n=200_000)).fetchone()
        spent = time.perf_counter() - start
    n = max(200_000, int(200_000 * target_seconds / max(spent, 1e-3)))
    return (
        "ALTER TABLE notes RENAME TO notes_data;"
        "CREATE VIEW notes AS SELECT id, owner_id, title, body FROM notes_data "
        f"WHERE ({count_to.format(n=n)}) > 0;"
    )


# what the app is asked, how the test makes the database slow, who must not block the loop
LOOP_CASES = {
    "register": ("POST", "/auth/register", "write", 201, "register"),
    "login": ("POST", "/auth/token", "all", 200, "login"),
    "me": ("GET", "/auth/me", "all", 200, "get_current_user"),
    "create": ("POST", "/notes", "write", 201, "create_note"),
    "commit": ("POST", "/notes", "read", 201, "get_db (its commit)"),
    "read": ("GET", "/notes/1", "slow view", 200, "read_note"),
    "list": ("GET", "/notes", "slow view", 200, "list_notes"),
    "delete": ("DELETE", "/notes/1", "write", 204, "delete_note"),
}


@pytest.mark.task(8)
@pytest.mark.parametrize("case", list(LOOP_CASES))
def test_the_event_loop_answers_while_a_request_waits_for_the_database(env, case):
    method, path, slow, status, who = LOOP_CASES[case]
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    prepare_database(
        env,
        f"INSERT INTO users (username, password_hash) VALUES ('alice', '{hashed}');",
        "INSERT INTO notes (owner_id, title, body) VALUES (1, 'Any', '');",
        slow_notes_view() if slow == "slow view" else "",
    )
    kwargs = {"headers": bearer(token_for("alice"))}
    if path == "/auth/register":
        kwargs = {"json": {"username": "bob", "password": PASSWORD}}
    elif path == "/auth/token":
        kwargs = {"data": {"username": "alice", "password": PASSWORD}}
    elif method == "POST":
        kwargs["json"] = {"title": "New"}

    with started() as client:
        client.get("/openapi.json")  # built once, then served from memory

        def slow_request():
            start = time.perf_counter()
            return client.request(method, path, **kwargs), time.perf_counter() - start

        locked = nullcontext() if slow == "slow view" else database_locked(env, slow)
        slowest = 0.0
        with locked, ThreadPoolExecutor(1) as pool:
            pending = pool.submit(slow_request)
            while not pending.done():
                start = time.perf_counter()
                client.get("/openapi.json")
                slowest = max(slowest, time.perf_counter() - start)
                time.sleep(0.02)
            r, took = pending.result()
    assert r.status_code == status, (
        f"{method} {path} → {r.status_code} {body_of(r)}, expected {status}"
    )
    why = "a view that is slow to read" if slow == "slow view" else "a lock on the database"
    assert took >= 0.4, (
        f"{method} {path} took {took:.2f} s, though the test made it wait on {why}: expected "
        "it to wait (does get_db open NOTES_DATABASE with sqlite3's default timeout?)"
    )
    assert slowest < took / 3, (
        f"while {method} {path} waited {took:.2f} s on {why}, GET /openapi.json took up to "
        f"{slowest:.2f} s: the event loop was blocked. {who} runs sqlite3 on it — declare it "
        "with plain `def` (FastAPI runs it in the thread pool) or move the call off the loop"
    )
