"""Kata 06 · Authentication and authorization. Each test names its task; the README says what to build."""

import base64
import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from jose import JWTError, jws, jwt
from passlib.hash import bcrypt as bcrypt_scheme

import app as kata

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

PASSWORDS = {"alice": "wonderland", "bob": "canwefixit", "carol": "higherfurther"}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """bcrypt at cost 4 keeps the kata fast: the app reads the cost from settings as it hashes."""
    monkeypatch.setattr(kata.settings, "bcrypt_rounds", 4)


@pytest.fixture
def client():
    # A crash in the app comes back as the 500 a real client would see, not as a traceback.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def login(client, username, password, scope=""):
    return client.post("/token", data={"username": username, "password": password, "scope": scope})


def decode(token, key=None):
    """The claims of a token the kata issued, checked with settings.secret_key and HS256."""
    try:
        return jwt.decode(token, key or kata.settings.secret_key, algorithms=["HS256"])
    except JWTError as exc:
        problem = exc
    pytest.fail(f"the access_token does not decode with settings.secret_key and HS256: {problem}")


def forge(username="alice", scopes=("me", "items:read"), **changes):
    """A token signed the way the kata must sign them: settings.secret_key, HS256, 10 min left."""
    claims = {"sub": username, "exp": int(time.time()) + 600, "scopes": list(scopes), **changes}
    return jwt.encode(claims, kata.settings.secret_key, algorithm="HS256")


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def cost(hashed):
    """The bcrypt cost of a hash ("$2b$04$..." → 4), or None if it is no bcrypt hash."""
    match = re.match(r"\$2[abxy]?\$(\d\d)\$", hashed) if isinstance(hashed, str) else None
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------- Task 1: hashing


@pytest.mark.task(1)
@pytest.mark.parametrize("username", sorted(PASSWORDS))
def test_stored_users_hold_bcrypt_hashes_never_the_password(client, username):
    assert username in kata.users_db, f"users_db has no {username!r} once the app has started"
    stored = kata.users_db[username].hashed_password
    assert stored != PASSWORDS[username], f"users_db[{username!r}] stores the plain password"
    assert bcrypt_scheme.identify(stored), (
        f"users_db[{username!r}] holds {stored!r}, no bcrypt hash"
    )
    assert bcrypt_scheme.verify(PASSWORDS[username], stored), (
        f"users_db[{username!r}]'s hash does not match the password {PASSWORDS[username]!r}"
    )


@pytest.mark.task(1)
def test_verify_password_accepts_the_right_password_and_rejects_wrong_ones():
    hashed = kata.hash_password("correct horse")
    assert kata.verify_password("correct horse", hashed) is True, (
        "verify_password('correct horse', hash_password('correct horse')) is not True"
    )
    for wrong in ("Correct horse", "correct horse ", "battery staple"):
        assert kata.verify_password(wrong, hashed) is False, (
            f"verify_password({wrong!r}, hash_password('correct horse')) is not False"
        )


@pytest.mark.task(1)
def test_the_same_password_hashes_differently_each_time():
    first, second = kata.hash_password("s3cret"), kata.hash_password("s3cret")
    assert first != second, "hash_password('s3cret') twice gave the same string: no random salt"


@pytest.mark.task(1)
@pytest.mark.parametrize("rounds", [4, 5])
def test_the_hashing_cost_follows_settings(monkeypatch, rounds):
    monkeypatch.setattr(kata.settings, "bcrypt_rounds", rounds)
    hashed = kata.hash_password("s3cret")
    assert cost(hashed) == rounds, (
        f"with settings.bcrypt_rounds = {rounds}, hash_password('s3cret') → {hashed!r}: "
        f"expected a bcrypt hash of cost {rounds}"
    )


# ---------------------------------------------------------------- Task 2: POST /token


@pytest.mark.task(2)
def test_login_with_form_data_returns_a_bearer_token(client):
    r = login(client, "alice", "wonderland")
    assert r.status_code == 200, (
        f"POST /token (form, alice) → {r.status_code} {r.text}, expected 200"
    )
    body = r.json()
    assert isinstance(body.get("access_token"), str) and body["access_token"], (
        f"POST /token → {body}, expected a non-empty string in 'access_token'"
    )
    assert body.get("token_type") == "bearer", (
        f"POST /token → token_type {body.get('token_type')!r}, expected 'bearer'"
    )


@pytest.mark.task(2)
def test_login_with_a_json_body_is_422(client):
    r = client.post("/token", json={"username": "alice", "password": "wonderland"})
    assert r.status_code == 422, (
        f"POST /token with a JSON body → {r.status_code}, expected 422: the OAuth2 password flow "
        "sends form data"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("username", "password"),
    [("mallory", "wonderland"), ("alice", "Wonderland"), ("bob", "wonderland")],
)
def test_a_failed_login_looks_the_same_whatever_was_wrong(client, username, password):
    baseline = login(client, "nobody", "nothing")
    r = login(client, username, password)
    assert r.status_code in (400, 401), (
        f"POST /token ({username}, {password}) → {r.status_code}, expected 400 (or 401)"
    )
    seen = (r.status_code, r.text, r.headers.get("www-authenticate"))
    expected = (baseline.status_code, baseline.text, baseline.headers.get("www-authenticate"))
    assert seen == expected, (
        f"POST /token ({username}, {password}) → {seen}, but an unknown user gets {expected}: "
        "the answer must not tell which part was wrong"
    )


# ---------------------------------------------------------------- Task 3: the token


@pytest.mark.task(3)
def test_the_token_carries_sub_exp_and_the_granted_scopes(client):
    r = login(client, "alice", "wonderland", scope="me items:read")
    assert r.status_code == 200, f"POST /token (alice) → {r.status_code}, expected 200"
    token = r.json().get("access_token", "")
    claims = decode(token)
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", f"token header {header}, expected alg HS256"
    assert claims.get("sub") == "alice", f"token claims {claims}, expected sub 'alice' (a string)"
    assert isinstance(claims.get("exp"), int), f"token claims {claims}, expected an exp timestamp"
    assert sorted(claims.get("scopes", [])) == ["items:read", "me"], (
        f"token claims {claims}, expected scopes ['me', 'items:read'] (alice asked for both)"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("minutes", [5, 90])
def test_the_expiry_comes_from_settings(client, monkeypatch, minutes):
    monkeypatch.setattr(kata.settings, "access_token_expire_minutes", minutes)
    before = time.time()
    r = login(client, "alice", "wonderland", scope="me")
    assert r.status_code == 200, f"POST /token (alice) → {r.status_code}, expected 200"
    lifetime = decode(r.json().get("access_token", "")).get("exp", 0) - before
    assert minutes * 60 - 2 <= lifetime <= minutes * 60 + 10, (
        f"with settings.access_token_expire_minutes = {minutes} the token expires in "
        f"{lifetime:.0f} s, expected about {minutes * 60} s"
    )


@pytest.mark.task(3)
def test_the_token_is_signed_with_the_secret_from_settings(client, monkeypatch):
    monkeypatch.setattr(kata.settings, "secret_key", "a-rotated-key-only-this-test-knows")
    r = login(client, "alice", "wonderland", scope="me")
    assert r.status_code == 200, f"POST /token (alice) → {r.status_code}, expected 200"
    token = r.json().get("access_token", "")
    assert decode(token, "a-rotated-key-only-this-test-knows").get("sub") == "alice", (
        "after changing settings.secret_key the token does not name alice"
    )


# ---------------------------------------------------------------- Task 4: get_current_user


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bad_credentials(case):
    """Headers for one way a request can fail to prove who it comes from."""
    now, key = int(time.time()), kata.settings.secret_key
    claims = {"sub": "alice", "exp": now + 600, "scopes": ["me", "items:read"]}
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
        return bearer(jwt.encode(claims, "not-the-server-key", algorithm="HS256"))
    if case == "alg none":
        head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return bearer(f"{head}.{b64(json.dumps(claims).encode())}.")
    if case == "HS512, not HS256":
        return bearer(jwt.encode(claims, key, algorithm="HS512"))
    if case == "expired":
        return bearer(forge(exp=now - 3600))
    if case == "no sub":
        return bearer(jwt.encode({"exp": now + 600, "scopes": ["me"]}, key, algorithm="HS256"))
    if case == "sub not a string":
        return bearer(forge(sub=42))
    if case == "no exp":
        return bearer(jwt.encode({"sub": "alice", "scopes": ["me"]}, key, algorithm="HS256"))
    if case == "payload not JSON":
        return bearer(jws.sign(b"alice", key, algorithm="HS256"))
    if case == "unknown user":
        return bearer(forge("mallory"))
    raise AssertionError(case)


@pytest.mark.task(4)
@pytest.mark.parametrize(
    "case",
    [
        "no Authorization header",
        "Basic instead of Bearer",
        "garbage",
        "tampered payload",
        "signed with another key",
        "alg none",
        "HS512, not HS256",
        "expired",
        "no sub",
        "sub not a string",
        "no exp",
        "payload not JSON",
        "unknown user",
    ],
)
def test_a_request_without_valid_credentials_is_401_with_www_authenticate(client, case):
    r = client.get("/users/me", headers=bad_credentials(case))
    challenge = r.headers.get("www-authenticate", "")
    assert r.status_code == 401 and challenge.lower().startswith("bearer"), (
        f"GET /users/me with {case} → {r.status_code}, WWW-Authenticate {challenge!r}; "
        "expected 401 with WWW-Authenticate: Bearer"
    )


@pytest.mark.task(4)
def test_a_token_for_a_deleted_user_is_401(client, monkeypatch):
    token = forge("alice")
    monkeypatch.delitem(kata.users_db, "alice")
    r = client.get("/users/me", headers=bearer(token))
    assert r.status_code == 401, (
        f"GET /users/me after alice was deleted → {r.status_code}, expected 401"
    )


@pytest.mark.task(4)
def test_a_valid_token_returns_the_user_without_the_hash(client):
    r = client.get("/users/me", headers=bearer(forge("alice")))
    assert r.status_code == 200, f"GET /users/me (alice's token) → {r.status_code}, expected 200"
    body = r.json()
    assert body.get("username") == "alice", f"GET /users/me → {body}, expected username 'alice'"
    assert kata.users_db["alice"].hashed_password not in r.text, (
        f"GET /users/me → {body}: the password hash leaked into the response"
    )


@pytest.mark.task(4)
def test_routes_get_the_user_from_the_get_current_user_dependency(client, monkeypatch):
    zoe = kata.UserInDB(username="zoe", hashed_password="unused", scopes=["me"])
    monkeypatch.setitem(kata.app.dependency_overrides, kata.get_current_user, lambda: zoe)
    r = client.get("/users/me")
    assert r.status_code == 200 and r.json().get("username") == "zoe", (
        f"GET /users/me with get_current_user overridden to zoe → {r.status_code} {r.text}, "
        "expected 200 with zoe: the route must depend on get_current_user"
    )


# ---------------------------------------------------------------- Task 5: inactive users


@pytest.mark.task(5)
def test_an_inactive_user_is_403(client):
    r = client.get("/users/me", headers=bearer(forge("carol")))
    assert r.status_code == 403 and r.json().get("detail") == "Inactive user", (
        f"GET /users/me (carol, disabled) → {r.status_code} {r.text}, "
        "expected 403 {'detail': 'Inactive user'}"
    )


@pytest.mark.task(5)
def test_disabling_a_user_stops_the_tokens_they_already_hold(client, monkeypatch):
    token = forge("alice")
    assert client.get("/users/me", headers=bearer(token)).status_code == 200, (
        "GET /users/me (alice's token) is not 200 while alice is active"
    )
    disabled = kata.users_db["alice"].model_copy(update={"disabled": True})
    monkeypatch.setitem(kata.users_db, "alice", disabled)
    r = client.get("/users/me", headers=bearer(token))
    assert r.status_code == 403, (
        f"GET /users/me after alice was disabled → {r.status_code}, expected 403"
    )


# ---------------------------------------------------------------- Task 6: scopes


@pytest.mark.task(6)
@pytest.mark.parametrize(
    ("username", "requested", "granted"),
    [
        ("bob", "me items:read", ["me"]),
        ("alice", "me items:read admin", ["items:read", "me"]),
        ("alice", "items:read", ["items:read"]),
        ("alice", "", []),
    ],
)
def test_login_grants_only_requested_scopes_the_user_holds(client, username, requested, granted):
    r = login(client, username, PASSWORDS[username], scope=requested)
    assert r.status_code == 200, f"POST /token ({username}) → {r.status_code}, expected 200"
    scopes = sorted(decode(r.json().get("access_token", "")).get("scopes", []))
    assert scopes == granted, (
        f"POST /token ({username}, scope={requested!r}) → token scopes {scopes}, expected {granted}"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize(
    ("path", "scopes", "required"),
    [
        ("/users/me", [], {"me"}),
        ("/users/me", ["items:read"], {"me"}),
        ("/users/me/items", ["me"], {"me", "items:read"}),
        ("/users/me/items", ["items:read"], {"me", "items:read"}),
    ],
)
def test_a_token_without_a_required_scope_is_403_insufficient_scope(client, path, scopes, required):
    r = client.get(path, headers=bearer(forge("alice", scopes=scopes)))
    challenge = r.headers.get("www-authenticate", "")
    named = re.search(r'scope="([^"]*)"', challenge)
    assert (
        r.status_code == 403
        and challenge.lower().startswith("bearer")
        and 'error="insufficient_scope"' in challenge
        and named
        and set(named.group(1).split()) == required
    ), (
        f"GET {path} with scopes {scopes} → {r.status_code}, WWW-Authenticate {challenge!r}; "
        f'expected 403 with Bearer error="insufficient_scope", scope="{" ".join(sorted(required))}"'
    )


@pytest.mark.task(6)
def test_a_token_with_every_required_scope_gets_through(client):
    r = client.get("/users/me/items", headers=bearer(forge("alice", scopes=["me", "items:read"])))
    assert r.status_code == 200, (
        f"GET /users/me/items with scopes me, items:read → {r.status_code}, expected 200"
    )
    assert all(item.get("owner") == "alice" for item in r.json()), (
        f"GET /users/me/items (alice) → {r.json()}, expected only items owned by alice"
    )


@pytest.mark.task(6)
def test_openapi_declares_the_password_flow_and_its_scopes(client):
    schemes = client.get("/openapi.json").json().get("components", {}).get("securitySchemes", {})
    flows = [s["flows"]["password"] for s in schemes.values() if "password" in s.get("flows", {})]
    assert flows and flows[0].get("tokenUrl") == "token", (
        f"securitySchemes in /openapi.json: {schemes}, expected an OAuth2 password flow at 'token'"
    )
    assert {"me", "items:read"} <= set(flows[0].get("scopes", {})), (
        f"the password flow declares scopes {flows[0].get('scopes')}, expected me and items:read"
    )


# ---------------------------------------------------------------- Task 7: timing-safe login


@pytest.fixture
def verifications(monkeypatch):
    """Every call to kata.verify_password during the test, as (hashed, result)."""
    calls = []
    original = kata.verify_password

    def counting(password, hashed):
        result = original(password, hashed)
        calls.append((hashed, result))
        return result

    monkeypatch.setattr(kata, "verify_password", counting)
    return calls


@pytest.mark.task(7)
def test_an_unknown_username_still_costs_one_verification(client, verifications):
    r = login(client, "mallory", "wonderland")
    assert r.status_code != 200, (
        f"POST /token (mallory, unknown) → {r.status_code}, expected a refusal"
    )
    assert len(verifications) == 1, (
        f"POST /token (mallory, unknown) called verify_password {len(verifications)} times, "
        "expected 1 (against a dummy hash), so an unknown name costs the same time as a known one"
    )
    hashed, result = verifications[0]
    real = cost(kata.users_db["alice"].hashed_password)
    assert cost(hashed) == real and result is False, (
        f"the unknown user was checked against {hashed!r} (→ {result}), expected a bcrypt hash of "
        f"cost {real}, like the stored ones, that no password matches"
    )


@pytest.mark.task(7)
@pytest.mark.parametrize("password", ["wonderland", "not-her-password"])
def test_a_known_username_costs_exactly_one_verification(client, verifications, password):
    login(client, "alice", password)
    assert len(verifications) == 1, (
        f"POST /token (alice, {password}) called verify_password {len(verifications)} times, "
        "expected exactly 1"
    )
