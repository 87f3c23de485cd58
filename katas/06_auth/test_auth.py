"""Kata 06 · Authentication and authorization. Each test names its task; the README says what to build.

The app is configured through its AUTH_* environment variables, and the tests build and check
tokens themselves (HMAC-SHA2 from the standard library), so any JWT library passes. Only the tests
marked white_box look inside app.py: the hash format, the calls at login, the time zone.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator

import bcrypt
import pytest
from fastapi.testclient import TestClient

import app as kata

SECRET = "kata-06-test-secret-only-these-tests-know-it-and-it-is-64-bytes+"  # HS512 wants 64 bytes
OTHER_SECRET = "another-secret-the-server-has-never-seen-but-also-64-bytes-long!"
DEFAULT_SECRET = "dev-only-secret-never-use-in-production-set-AUTH_SECRET_KEY-to-64-random-bytes"
CHEAP = {"AUTH_BCRYPT_ROUNDS": "4", "AUTH_ARGON2_TIME_COST": "1", "AUTH_ARGON2_MEMORY_KIB": "1024"}
SETTINGS = (
    "AUTH_SECRET_KEY", "AUTH_ALGORITHM", "AUTH_ACCESS_TOKEN_EXPIRE_MINUTES",
    "AUTH_BCRYPT_ROUNDS", "AUTH_ARGON2_TIME_COST", "AUTH_ARGON2_MEMORY_KIB",
)  # fmt: skip
PASSWORDS = {"alice": "wonderland", "bob": "canwefixit", "carol": "higherfurther"}
PROFILES = {
    "alice": {"username": "alice", "full_name": "Alice Liddell", "disabled": False},
    "bob": {"username": "bob", "full_name": "Bob Builder", "disabled": False},
}
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
INVALID = {"detail": "Could not validate credentials"}
INVALID_CHALLENGE = 'Bearer error="invalid_token"'
INCORRECT = {"detail": "Incorrect username or password"}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    """Every test starts from these settings: a secret of its own, and hashing cheap enough."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_SECRET_KEY", SECRET)
    for name, value in CHEAP.items():
        monkeypatch.setenv(name, value)


@contextlib.contextmanager
def running(monkeypatch, **env: str | None) -> Iterator[TestClient]:
    """The app started (lifespan and all) with these AUTH_* settings on top of the defaults."""
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    # A crash in the app comes back as the 500 a real client would see, not as a traceback.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(monkeypatch):
    with running(monkeypatch) as client:
        yield client


def login(client, username, password, scope=""):
    return client.post("/token", data={"username": username, "password": password, "scope": scope})


# ---------------------------------------------------------------- JWTs, by hand

DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload, key=SECRET, alg="HS256", header=None) -> str:
    """A JWS in compact form; `payload` is a dict of claims or raw bytes."""
    head = b64(json.dumps(header or {"alg": alg, "typ": "JWT"}).encode())
    body = b64(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), DIGESTS[alg]).digest()
    return f"{head}.{body}.{b64(mac)}"


def forge(username="alice", scope="me items:read", key=SECRET, alg="HS256", **changes) -> str:
    """A token signed the way the app must sign them, valid for ten more minutes."""
    claims = {"sub": username, "exp": int(time.time()) + 600, "scope": scope, **changes}
    return sign({k: v for k, v in claims.items() if v is not None}, key, alg)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def read_token(response, key=SECRET, alg="HS256") -> dict:
    """The claims of the token in a POST /token answer, after checking its header and signature."""
    assert response.status_code == 200, (
        f"POST /token → {response.status_code} {response.text}, expected 200 with a token"
    )
    token = response.json().get("access_token")
    parts = token.split(".") if isinstance(token, str) else []
    assert len(parts) == 3, f"access_token {token!r} is no JWT (three dot-separated parts)"
    try:
        header, claims = (json.loads(unb64(part)) for part in parts[:2])
    except ValueError:
        pytest.fail(f"access_token {token!r}: its header or claims are not base64url JSON")
    assert header.get("alg") == alg, f"the token's header is {header}, expected alg {alg}"
    mac = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode(), DIGESTS[alg]).digest()
    assert hmac.compare_digest(unb64(parts[2]), mac), (
        f"the token's signature does not check out with {alg} and the key in AUTH_SECRET_KEY"
    )
    assert isinstance(claims, dict), f"the token's claims are {claims!r}, expected a JSON object"
    return claims


def challenges(response) -> list[str]:
    return response.headers.get_list("www-authenticate")


def answer(response) -> tuple:
    """Status, JSON body (or the text) and every WWW-Authenticate header of a response."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body, challenges(response)


def all_right(problems: list[str], out_of: int, what: str) -> None:
    """Fail with every problem found, not just the first, if there is any."""
    assert not problems, f"{len(problems)} of {out_of} {what}:\n" + "\n".join(problems)


# ---------------------------------------------------------------- Task 1: hashing

BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
ARGON2ID = re.compile(
    r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=\d+\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)
A_LITTLE_DEARER = {
    "AUTH_BCRYPT_ROUNDS": "5",
    "AUTH_ARGON2_TIME_COST": "2",
    "AUTH_ARGON2_MEMORY_KIB": "2048",
}


def hash_problem(hashed, env) -> str | None:
    """What is wrong with `hashed` as a hash made with the costs in `env`, or None."""
    if not isinstance(hashed, str):
        return f"{hashed!r} is no string"
    if match := BCRYPT.fullmatch(hashed):
        if int(match.group(1)) != int(env["AUTH_BCRYPT_ROUNDS"]):
            return f"{hashed!r} is a bcrypt hash of cost {match.group(1)}, expected AUTH_BCRYPT_ROUNDS={env['AUTH_BCRYPT_ROUNDS']}"
        return None
    if match := ARGON2ID.fullmatch(hashed):
        memory, rounds = match.groups()
        if (memory, rounds) != (env["AUTH_ARGON2_MEMORY_KIB"], env["AUTH_ARGON2_TIME_COST"]):
            return (
                f"{hashed!r} is an Argon2id hash with m={memory}, t={rounds}, expected "
                f"AUTH_ARGON2_MEMORY_KIB={env['AUTH_ARGON2_MEMORY_KIB']}, AUTH_ARGON2_TIME_COST={env['AUTH_ARGON2_TIME_COST']}"
            )
        return None
    return f"{hashed!r} is neither a bcrypt hash ($2b$…) nor an Argon2id hash ($argon2id$…)"


@pytest.mark.task(1)
@pytest.mark.white_box
@pytest.mark.parametrize("costs", [CHEAP, A_LITTLE_DEARER], ids=["cheap", "a little dearer"])
def test_stored_users_hold_salted_hashes_of_the_configured_cost(monkeypatch, costs):
    with running(monkeypatch, **costs):
        stored = {name: user.hashed_password for name, user in kata.users_db.items()}
    assert sorted(stored) == sorted(PASSWORDS), (
        f"users_db holds {sorted(stored)} once the app has started, expected {sorted(PASSWORDS)}"
    )
    for username, password in PASSWORDS.items():
        hashed = stored[username]
        assert password not in str(hashed), f"users_db[{username!r}] holds the password itself"
        problem = hash_problem(hashed, costs)
        assert problem is None, f"users_db[{username!r}]: {problem}"
        assert kata.verify_password(password, hashed) is True, (
            f"verify_password({password!r}, users_db[{username!r}].hashed_password) is not True"
        )
    assert len(set(stored.values())) == len(stored), "two users hold the same hash"


@pytest.mark.task(1)
@pytest.mark.white_box
def test_verify_password_tells_the_right_password_from_any_other_within_72_bytes():
    first, second = kata.hash_password("correct horse"), kata.hash_password("correct horse")
    assert first != second, "hash_password('correct horse') twice gave the same hash: no salt"
    for hashed in (first, second):
        assert kata.verify_password("correct horse", hashed) is True, (
            "verify_password('correct horse', hash_password('correct horse')) is not True"
        )
        for wrong in ("Correct horse", "correct horse ", " correct horse", "correct hors", ""):
            assert kata.verify_password(wrong, hashed) is False, (
                f"verify_password({wrong!r}, hash_password('correct horse')) is not False"
            )
    # bcrypt reads the first 72 bytes of the UTF-8 encoding: each of them counts, the 72nd too.
    for right, wrongs in (
        ("a" * 72, ["a" * 71 + "b", "a" * 71]),
        ("ä" * 35 + "xy", ["ä" * 35 + "xz", "ä" * 35 + "x", "ä" * 36]),  # 72 bytes, 37 characters
    ):
        hashed = kata.hash_password(right)
        assert kata.verify_password(right, hashed) is True, (
            f"verify_password of the 72-byte password {right!r} against its own hash is not True"
        )
        for wrong in wrongs:
            assert kata.verify_password(wrong, hashed) is False, (
                f"verify_password({wrong!r}, hash_password({right!r})) is not False: the two "
                "differ within their first 72 bytes"
            )


def interleaved_fastest(*calls, rounds=5) -> list[float]:
    """The fastest time of each call, run in turns.

    A busy machine only ever adds time to a call, so the fastest of several is the closest to
    what the call itself costs; taking turns spreads a busy spell over all of them.
    """
    spent: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for call, times in zip(calls, spent, strict=True):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
    return [min(times) for times in spent]


DEAR = {"AUTH_BCRYPT_ROUNDS": "10", "AUTH_ARGON2_TIME_COST": "2", "AUTH_ARGON2_MEMORY_KIB": "32768"}
YARDSTICK_COST = 8  # a bcrypt check at cost 8: 16 times the cheap cost 4, a quarter of the dear 10


@pytest.mark.task(1)
@pytest.mark.parametrize(("costs", "dear"), [(CHEAP, False), (DEAR, True)], ids=["cheap", "dear"])
def test_what_a_login_costs_follows_the_hashing_settings(monkeypatch, costs, dear):
    """A hash's cost shows as time. A failed login, less a request refused before any hashing,
    is timed against a yardstick, a bcrypt check at cost 8 done here. All three take turns, so
    that a busy machine slows them alike."""
    yardstick = bcrypt.hashpw(b"yardstick", bcrypt.gensalt(YARDSTICK_COST))
    with running(monkeypatch, **costs) as client:
        wrong = login(client, "alice", "not-her-password")
        assert wrong.status_code == 400, (
            f"POST /token (alice, wrong password) → {wrong.status_code}, expected 400"
        )
        unfinished = client.post("/token", data={"username": "alice"})
        assert unfinished.status_code == 422, (
            f"POST /token without a password → {unfinished.status_code}, expected 422"
        )
        logging_in, refused, measuring = interleaved_fastest(
            lambda: login(client, "alice", "not-her-password"),
            lambda: client.post("/token", data={"username": "alice"}),
            lambda: bcrypt.checkpw(b"not-the-yardstick", yardstick),
            rounds=7,
        )
    hashing = logging_in - refused
    ratio = hashing / measuring
    settings = ", ".join(f"{k}={v}" for k, v in costs.items())
    said = (
        f"with {settings} a failed login takes {logging_in * 1000:.1f} ms, "
        f"{hashing * 1000:.1f} ms more than a request refused with 422: {ratio:.2f} times a "
        f"bcrypt check at cost {YARDSTICK_COST} ({measuring * 1000:.1f} ms)"
    )
    if dear:
        assert ratio > 2, (
            f"{said}, expected more than 2 times: a hash that dear costs about 4 times the "
            "yardstick. Is the password checked against a hash made with the configured cost?"
        )
    else:
        assert ratio < 0.5, (
            f"{said}, expected less than half: a hash that cheap costs about a sixteenth of the "
            "yardstick. Is the cost fixed somewhere (a hasher made at import, bcrypt's default "
            "12, pwdlib's recommended settings)?"
        )


# ---------------------------------------------------------------- Task 2: POST /token


@pytest.mark.task(2)
def test_login_with_form_data_returns_a_bearer_token(client):
    for username in ("alice", "bob"):
        r = login(client, username, PASSWORDS[username])
        assert r.status_code == 200, (
            f"POST /token (form, {username}) → {r.status_code} {r.text}, expected 200"
        )
        body = r.json()
        assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer", (
            f"POST /token ({username}) → {body}, expected exactly "
            "{'access_token': '<jwt>', 'token_type': 'bearer'}"
        )
        assert read_token(r).get("sub") == username, f"the token for {username} does not name them"


@pytest.mark.task(2)
def test_post_token_reads_the_oauth2_form_and_nothing_else(client):
    good = login(client, "alice", "wonderland")
    assert good.status_code == 200, (
        f"POST /token (form, alice) → {good.status_code} {good.text}, expected 200"
    )
    problems, cases = (
        [],
        [
            ({"json": {"username": "alice", "password": "wonderland"}}, {"username", "password"}),
            ({"data": {"username": "alice"}}, {"password"}),
            ({"data": {"password": "wonderland"}}, {"username"}),
        ],
    )
    for request_args, missing in cases:
        r = client.post("/token", **request_args)
        expected = sorted(("body", field) for field in missing)
        named = (
            sorted(
                tuple(error.get("loc", ()))
                for error in (r.json().get("detail") or [])
                if isinstance(error, dict)
            )
            if r.status_code == 422
            else None
        )
        if named != expected:
            problems.append(
                f"POST /token with {request_args} → {r.status_code} {r.text[:120]}, expected 422 "
                f"naming {expected}"
            )
    all_right(
        problems,
        len(cases),
        "logins that are not the OAuth2 form were not a 422 naming the missing fields",
    )


@pytest.mark.task(2)
def test_every_failed_login_is_the_same_400(client):
    """Usernames and passwords match exactly as typed; nothing tells which part was wrong."""
    attempts = [
        ("mallory", "wonderland"),
        ("alice", "Wonderland"),
        ("alice", "wonderland "),
        ("alice", " wonderland"),
        (" alice", "wonderland"),
        ("Alice", "wonderland"),
        ("bob", "wonderland"),
        ("alice", "wonderland" + "!" * 100),  # past bcrypt's 72 bytes: a wrong password, no 500
    ]
    problems = []
    for username, password in attempts:
        seen = answer(login(client, username, password))
        if seen != (400, INCORRECT, []):
            problems.append(f"({username!r}, {password!r}) → {seen}")
    all_right(
        problems,
        len(attempts),
        f"failed logins were not 400 {INCORRECT} without WWW-Authenticate, as (status, body, "
        "WWW-Authenticate)",
    )


# ---------------------------------------------------------------- Task 3: the token


@pytest.mark.task(3)
def test_the_token_carries_sub_exp_and_the_granted_scope(client):
    before = time.time()
    claims = read_token(login(client, "alice", "wonderland", scope="me items:read"))
    assert claims.get("sub") == "alice", f"token claims {claims}, expected sub 'alice'"
    assert type(claims.get("exp")) is int and claims["exp"] > before, (
        f"token claims {claims}, expected exp: a whole number of seconds since 1970, in the future"
    )
    scope = claims.get("scope")
    assert isinstance(scope, str) and sorted(scope.split(" ")) == ["items:read", "me"], (
        f"token claims {claims}, expected scope 'me items:read': one string, the granted scopes "
        "separated by single spaces (RFC 8693 §4.2)"
    )
    nothing = read_token(login(client, "alice", "wonderland", scope=""))
    assert nothing.get("scope") == "", (
        f"token claims {nothing} when no scope was asked for, expected scope '' (always there)"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(("minutes", "expected"), [(None, 15), ("5", 5), ("90", 90)])
def test_the_lifetime_comes_from_the_settings(monkeypatch, minutes, expected):
    with running(monkeypatch, AUTH_ACCESS_TOKEN_EXPIRE_MINUTES=minutes) as client:
        before = time.time()
        r = login(client, "alice", "wonderland", scope="me")
    lifetime = read_token(r).get("exp", 0) - before
    assert expected * 60 - 2 <= lifetime <= expected * 60 + 10, (
        f"with AUTH_ACCESS_TOKEN_EXPIRE_MINUTES={minutes} the token expires in {lifetime:.0f} s, "
        f"expected {expected * 60} s"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("secret", "algorithm"),
    [(OTHER_SECRET, None), (None, None), (SECRET, "HS384"), (SECRET, "HS512")],
    ids=["another key", "the default key", "HS384", "HS512"],
)
def test_the_token_is_signed_with_the_key_and_algorithm_of_the_settings(
    monkeypatch, secret, algorithm
):
    with running(monkeypatch, AUTH_SECRET_KEY=secret, AUTH_ALGORITHM=algorithm) as client:
        r = login(client, "alice", "wonderland", scope="me")
    claims = read_token(r, key=secret or DEFAULT_SECRET, alg=algorithm or "HS256")
    assert claims.get("sub") == "alice", f"token claims {claims}, expected sub 'alice'"


@pytest.fixture
def time_zone():
    """Set the process's local time zone (POSIX TZ, no zoneinfo needed); put it back after."""
    before = os.environ.get("TZ")

    def set_to(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()
        assert time.localtime().tm_gmtoff != 0, f"TZ={zone} did not move local time off UTC"

    yield set_to
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.task(3)
@pytest.mark.white_box
def test_exp_counts_from_now_in_utc_whatever_the_local_time_zone(client, time_zone):
    """The grading machine runs in UTC, where a naive local datetime happens to look right."""
    for zone in ("EST5", "JST-9"):  # UTC−5 and UTC+9
        time_zone(zone)
        before = time.time()
        r = login(client, "alice", "wonderland", scope="me")
        lifetime = read_token(r).get("exp", 0) - before
        assert 15 * 60 - 2 <= lifetime <= 15 * 60 + 10, (
            f"with the server's local time zone at {zone} the token expires in {lifetime:.0f} s, "
            "expected 900 s: build exp from datetime.now(timezone.utc), not from a naive local time"
        )
        used = client.get("/users/me", headers=bearer(r.json()["access_token"]))
        assert used.status_code == 200, (
            f"with the local time zone at {zone}, GET /users/me with a fresh token → "
            f"{used.status_code} {used.text}, expected 200"
        )


# ---------------------------------------------------------------- Task 4: get_current_user


def bad_credentials(case):
    """Headers for one way a request can fail to prove who it comes from."""
    now = int(time.time())
    claims = {"sub": "alice", "exp": now + 600, "scope": "me items:read"}
    if case == "no Authorization header":
        return {}
    if case == "Basic instead of Bearer":
        return {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}
    if case == "garbage":
        return bearer("not-a-jwt")
    if case == "tampered payload":  # bob's signature on a payload rewritten to say alice
        head, _, signature = forge("bob").split(".")
        return bearer(f"{head}.{b64(json.dumps(claims).encode())}.{signature}")
    if case == "signed with another key":
        return bearer(sign(claims, OTHER_SECRET))
    if case == "alg none":
        head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return bearer(f"{head}.{b64(json.dumps(claims).encode())}.")
    if case == "HS512, not HS256":
        return bearer(sign(claims, alg="HS512"))
    if case == "HS384, not HS256":
        return bearer(sign(claims, alg="HS384"))
    if case == "expired":
        return bearer(forge(exp=now - 3600))
    if case == "no sub":
        return bearer(forge(sub=None))
    if case == "sub not a string":
        return bearer(forge(sub=42))
    if case == "no exp":
        return bearer(forge(exp=None))
    if case == "exp not a number":
        return bearer(forge(exp="tomorrow"))
    if case == "payload not JSON":
        return bearer(sign(b"alice"))
    if case == "payload a JSON list":
        return bearer(sign(b'["alice"]'))
    if case == "unknown user":
        return bearer(forge("mallory"))
    raise AssertionError(case)


NO_TOKEN = ["no Authorization header", "Basic instead of Bearer"]
BAD_TOKENS = [
    "garbage", "tampered payload", "signed with another key", "alg none", "HS512, not HS256",
    "HS384, not HS256", "expired", "no sub", "sub not a string", "no exp", "exp not a number",
    "payload not JSON", "payload a JSON list", "unknown user",
]  # fmt: skip


@pytest.mark.task(4)
def test_a_request_without_valid_credentials_is_401_with_the_exact_challenge(client):
    """RFC 6750 §3.1: no error code when no token came, error="invalid_token" when it is no good."""
    problems = []
    for case in NO_TOKEN + BAD_TOKENS:
        expected = (
            (401, NOT_AUTHENTICATED, ["Bearer"])
            if case in NO_TOKEN
            else (401, INVALID, [INVALID_CHALLENGE])
        )
        seen = answer(client.get("/users/me", headers=bad_credentials(case)))
        if seen != expected:
            problems.append(f"{case} → {seen}, expected {expected}")
    all_right(
        problems,
        len(NO_TOKEN + BAD_TOKENS),
        "requests to GET /users/me without valid credentials got another (status, body, "
        "WWW-Authenticate)",
    )


@pytest.mark.task(4)
def test_a_valid_token_gets_the_profile_and_nothing_more(client):
    for username in ("alice", "bob"):
        issued = login(client, username, PASSWORDS[username], scope="me").json().get("access_token")
        for source, token in (
            ("forged by the test", forge(username, "me")),
            ("from POST /token", issued),
        ):
            r = client.get("/users/me", headers=bearer(token))
            assert (r.status_code, r.text and r.json()) == (200, PROFILES[username]), (
                f"GET /users/me with {username}'s token ({source}) → {r.status_code} {r.text}, "
                f"expected 200 {PROFILES[username]} (no hash, no scopes)"
            )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("configured", "signed_with", "status"),
    [("HS512", "HS512", 200), ("HS512", "HS256", 401), ("HS384", "HS512", 401)],
)
def test_a_token_is_checked_with_the_configured_algorithm_only(
    monkeypatch, configured, signed_with, status
):
    with running(monkeypatch, AUTH_ALGORITHM=configured) as client:
        r = client.get("/users/me", headers=bearer(forge("alice", "me", alg=signed_with)))
    assert r.status_code == status, (
        f"with AUTH_ALGORITHM={configured}, GET /users/me with a {signed_with} token → "
        f"{r.status_code} {r.text}, expected {status}"
    )


@pytest.mark.task(4)
@pytest.mark.white_box
def test_routes_get_the_user_from_the_get_current_user_dependency(client, monkeypatch):
    token = forge("zoe", "me")
    r = client.get("/users/me", headers=bearer(token))
    assert (r.status_code, challenges(r)) == (401, [INVALID_CHALLENGE]), (
        f"GET /users/me with a token for zoe (no such user) → {r.status_code} {r.text}, "
        f"WWW-Authenticate {challenges(r)}; expected 401 {INVALID_CHALLENGE}"
    )
    zoe = kata.UserInDB(username="zoe", full_name="Zoe", hashed_password="unused", scopes=["me"])
    monkeypatch.setitem(kata.app.dependency_overrides, kata.get_current_user, lambda: zoe)
    r = client.get("/users/me", headers=bearer(token))
    assert r.status_code == 200 and r.json().get("username") == "zoe", (
        f"GET /users/me with get_current_user overridden to zoe → {r.status_code} {r.text}, "
        "expected 200 with zoe: the routes must get their user through get_current_user"
    )


# ---------------------------------------------------------------- Task 5: inactive users

INACTIVE = {"detail": "Inactive user"}


@pytest.mark.task(5)
def test_a_disabled_user_is_403_on_every_route(client):
    for path in ("/users/me", "/users/me/items"):
        r = client.get(path, headers=bearer(forge("carol", "me items:read")))
        assert (r.status_code, r.text and r.json()) == (403, INACTIVE), (
            f"GET {path} (carol, disabled, every scope) → {r.status_code} {r.text}, "
            f"expected 403 {INACTIVE}"
        )


@pytest.mark.task(5)
def test_a_disabled_user_can_log_in_but_cannot_use_the_token(client):
    r = login(client, "carol", "higherfurther", scope="me")
    assert r.status_code == 200, (
        f"POST /token (carol, disabled, right password) → {r.status_code} {r.text}, expected 200: "
        "the account is checked where the token is used"
    )
    used = client.get("/users/me", headers=bearer(r.json().get("access_token")))
    assert (used.status_code, used.text and used.json()) == (403, INACTIVE), (
        f"GET /users/me with carol's token → {used.status_code} {used.text}, expected 403 {INACTIVE}"
    )


@pytest.mark.task(5)
def test_a_missing_scope_is_reported_before_a_disabled_account(client):
    for path, scope in (("/users/me/items", "me"), ("/users/me", "")):
        r = client.get(path, headers=bearer(forge("carol", scope)))
        challenge = challenges(r)
        assert (
            r.status_code == 403 and len(challenge) == 1 and "insufficient_scope" in challenge[0]
        ), (
            f"GET {path} (carol, disabled, scope {scope!r}) → {r.status_code} {r.text}, "
            f"WWW-Authenticate {challenge}; expected the 403 insufficient_scope: the scopes are "
            "checked before the account"
        )


# ---------------------------------------------------------------- Task 6: scopes


@pytest.mark.task(6)
def test_login_grants_only_requested_scopes_the_user_holds(client):
    cases = [
        ("bob", "me items:read", ["me"]),
        ("alice", "me items:read admin", ["items:read", "me"]),
        ("alice", "items:read", ["items:read"]),
        ("alice", "", []),
    ]
    problems = []
    for username, requested, granted in cases:
        scope = read_token(login(client, username, PASSWORDS[username], scope=requested)).get(
            "scope"
        )
        right = isinstance(scope, str) and sorted(scope.split()) == granted
        if not (right and scope == " ".join(scope.split())):
            problems.append(
                f"{username} asking for {requested!r} got scope {scope!r}, expected "
                f"{' '.join(granted)!r}"
            )
    all_right(
        problems,
        len(cases),
        "logins granted the wrong scope (the requested scopes the user holds, one space apart)",
    )


REQUIRED = {"/users/me": {"me"}, "/users/me/items": {"me", "items:read"}}
INSUFFICIENT = re.compile(r'Bearer error="insufficient_scope", scope="([^" ]+(?: [^" ]+)*)"')


@pytest.mark.task(6)
def test_a_token_without_a_required_scope_is_403_insufficient_scope(client):
    cases = [
        ("/users/me", ""),
        ("/users/me", "items:read"),
        ("/users/me/items", "me"),
        ("/users/me/items", "items:read"),
        ("/users/me/items", ""),
    ]
    problems = []
    for path, scope in cases:
        status, body, challenge = answer(client.get(path, headers=bearer(forge("alice", scope))))
        named = INSUFFICIENT.fullmatch(challenge[0]) if len(challenge) == 1 else None
        if not (
            (status, body) == (403, {"detail": "Not enough permissions"})
            and named
            and set(named.group(1).split(" ")) == REQUIRED[path]
        ):
            problems.append(
                f"GET {path} with scope {scope!r} → {status} {body}, WWW-Authenticate {challenge}; "
                f'expected Bearer error="insufficient_scope", scope="{" ".join(sorted(REQUIRED[path]))}"'
            )
    all_right(
        problems,
        len(cases),
        "tokens lacking a scope did not get 403 {'detail': 'Not enough permissions'} with the "
        "insufficient_scope challenge naming every scope the route needs (in any order)",
    )


@pytest.mark.task(6)
def test_a_token_with_every_required_scope_gets_through(client):
    token = login(client, "alice", "wonderland", scope="me items:read").json().get("access_token")
    for path, expected in (
        ("/users/me", PROFILES["alice"]),
        ("/users/me/items", [{"title": "Pocket watch", "owner": "alice"}]),
    ):
        r = client.get(path, headers=bearer(token))
        assert (r.status_code, r.text and r.json()) == (200, expected), (
            f"GET {path} with alice's token (me items:read) → {r.status_code} {r.text}, "
            f"expected 200 {expected}"
        )


@pytest.mark.task(6)
def test_a_bad_token_is_401_before_any_scope_is_looked_at(client):
    cases = ["signed with another key", "expired", "unknown user", "garbage"]
    problems = []
    for case in cases:
        headers = bad_credentials(case)
        if case != "garbage":  # the same faults, on a token that also lacks every scope
            claims = json.loads(unb64(headers["Authorization"].split(".")[1]))
            key = OTHER_SECRET if case == "signed with another key" else SECRET
            headers = bearer(sign({**claims, "scope": ""}, key))
        seen = answer(client.get("/users/me/items", headers=headers))
        if seen != (401, INVALID, [INVALID_CHALLENGE]):
            problems.append(f"{case}, no scope → {seen}")
    all_right(
        problems,
        len(cases),
        f"bad tokens without scopes were not 401 {INVALID} with {INVALID_CHALLENGE}: the token "
        "is checked before its scopes",
    )


@pytest.mark.task(6)
def test_openapi_declares_the_password_flow_its_scopes_and_what_each_route_needs(client):
    document = client.get("/openapi.json").json()
    schemes = document.get("components", {}).get("securitySchemes", {})
    flows = {name: scheme.get("flows", {}).get("password", {}) for name, scheme in schemes.items()}
    assert len(flows) == 1, f"securitySchemes in /openapi.json: {schemes}, expected one"
    [(name, flow)] = flows.items()
    assert flow.get("tokenUrl") == "token" and set(flow.get("scopes", {})) == {
        "me",
        "items:read",
    }, (
        f"securitySchemes in /openapi.json: {schemes}, expected an OAuth2 password flow with "
        "tokenUrl 'token' and exactly the scopes me and items:read"
    )
    for path, needed in REQUIRED.items():
        security = document.get("paths", {}).get(path, {}).get("get", {}).get("security")
        declared = [(list(s), set(next(iter(s.values()), []))) for s in security or []]
        assert declared == [([name], needed)], (
            f"GET {path} in /openapi.json has security {security}, expected "
            f"[{{'{name}': {sorted(needed)}}}]"
        )


# ---------------------------------------------------------------- Task 7: timing-safe login

TIMED = {"AUTH_BCRYPT_ROUNDS": "8", "AUTH_ARGON2_TIME_COST": "1", "AUTH_ARGON2_MEMORY_KIB": "16384"}


@pytest.mark.task(7)
def test_an_unknown_username_takes_as_long_as_a_wrong_password(monkeypatch):
    """Timed over HTTP, in turns, the fastest of 9 each: an unknown user costs 1/2 to 3/2 of a known one."""
    with running(monkeypatch, **TIMED) as client:
        for username in ("mallory", "alice"):  # a first round to warm up
            r = login(client, username, "not-the-password")
            assert r.status_code == 400, (
                f"POST /token ({username}, wrong password) → {r.status_code}, expected 400"
            )
        unknown, known = interleaved_fastest(
            lambda: login(client, "mallory", "not-the-password"),
            lambda: login(client, "alice", "not-the-password"),
            rounds=9,
        )
    ratio = unknown / known
    assert 1 / 2 < ratio < 3 / 2, (
        f"with AUTH_BCRYPT_ROUNDS=8 (Argon2id t=1, m=16384) a login for an unknown user takes "
        f"{unknown * 1000:.1f} ms and one for alice with a wrong password {known * 1000:.1f} ms "
        f"({ratio:.2f} times as long); expected about the same, so that the time does not tell "
        "which usernames exist. Verify once, against a dummy hash made beforehand with the stored "
        "hashes' cost"
    )


@pytest.fixture
def calls(monkeypatch):
    """Calls to kata.verify_password and kata.hash_password, once recording is switched on."""
    seen = {"verify_password": [], "hash_password": []}

    def record():
        for name, log in seen.items():
            original = getattr(kata, name)

            def counting(*args, original=original, log=log):
                result = original(*args)
                log.append((args, result))
                return result

            monkeypatch.setattr(kata, name, counting)

    return seen, record


@pytest.mark.task(7)
@pytest.mark.white_box
@pytest.mark.parametrize(
    ("username", "password"),
    [("mallory", "wonderland"), ("alice", "wonderland"), ("alice", "not-her-password")],
)
def test_every_login_verifies_exactly_once_and_hashes_nothing(client, calls, username, password):
    seen, record = calls
    stored = kata.users_db["alice"].hashed_password
    record()  # after startup: the stored hashes (and any dummy made at startup) are not counted
    login(client, username, password)
    verified, hashed = seen["verify_password"], seen["hash_password"]
    assert len(verified) == 1 and not hashed, (
        f"POST /token ({username}, {password}) called verify_password {len(verified)} times and "
        f"hash_password {len(hashed)} times; expected exactly one verification and no hashing "
        "(make the dummy hash before any login needs it)"
    )
    (_, against), result = verified[0]
    if username == "mallory":
        assert hash_problem(against, CHEAP) is None and result is False, (
            f"the unknown user was checked against {against!r} (→ {result}), expected a hash of "
            f"the stored hashes' cost, like {stored!r}, that the password does not match"
        )
