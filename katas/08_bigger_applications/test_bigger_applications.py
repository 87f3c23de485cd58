"""Kata 08 · Bigger applications — what the bookshelf API must do."""

import pytest
from fastapi.testclient import TestClient

import app as kata
import routers
import settings

KEY = "test-key"
DEPRECATION = "@1767225600"  # RFC 9745: deprecated since 2026-01-01T00:00:00Z
BOOK_PATHS = ["/v1/books", "/v1/books/{book_id}", "/v2/books", "/v2/books/{book_id}"]
BOOKS = [
    {"id": 1, "title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin"},
    {"id": 2, "title": "Kindred", "author": "Octavia E. Butler"},
    {"id": 3, "title": "Solaris", "author": "Stanisław Lem"},
]
UNAUTHORIZED = {"detail": "Invalid or missing API key"}
WRONG_KEYS = [None, "wrong", "", "TEST-KEY", "test-key-2"]


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """Every test starts in an empty folder (no .env) with the API key in the environment.

    API_KEY is set too, so that tasks 1-3 pass before settings.py reads the BOOKSHELF_ prefix
    (task 4); the task 4 tests give it a value that must lose, or remove it.
    """
    for name in ("BOOKSHELF_APP_NAME", "APP_NAME", "CATALOG_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOOKSHELF_API_KEY", KEY)
    monkeypatch.setenv("API_KEY", KEY)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def client():
    # A server error comes back as a 500 response, as a real client would see it.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def catalog_log(monkeypatch, tmp_path):
    """The file the given Catalog appends "open" and "close" to, set before the app starts."""
    path = tmp_path / "catalog.log"
    monkeypatch.setenv("CATALOG_LOG", str(path))
    return path


@pytest.fixture
def client_with_log(catalog_log):
    """A started app and its catalog log."""
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client, catalog_log


def events(path):
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def payload(r):
    """The JSON body, or the text when it is not JSON (a crash's 500 is plain text)."""
    try:
        return r.json()
    except ValueError:
        return r.text


def openapi(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200, f"GET /openapi.json → {r.status_code}, expected 200"
    return r.json()


def key_headers(key=KEY):
    return {} if key is None else {"X-API-Key": key}


# --- task 1: lifespan -------------------------------------------------------------------------


@pytest.mark.task(1)
def test_lifespan_opens_the_catalog_once_and_closes_it_at_shutdown(catalog_log):
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        assert events(catalog_log) == ["open"], (
            f"after startup the catalog log says {events(catalog_log)}, expected ['open']: "
            "open one Catalog in the lifespan, before its yield (not when app.py is imported)"
        )
        for _ in range(3):
            r = client.get("/info")
            assert (r.status_code, payload(r)) == (200, {"app_name": "Bookshelf", "books": 3}), (
                f"GET /info → {r.status_code} {payload(r)}, expected 200 "
                "{'app_name': 'Bookshelf', 'books': 3}: the lifespan must yield "
                "{'catalog': catalog} so get_catalog finds it on request.state"
            )
        assert events(catalog_log) == ["open"], (
            f"after three requests the catalog log says {events(catalog_log)}, expected ['open']: "
            "open it once, at startup"
        )
    assert events(catalog_log) == ["open", "close"], (
        f"after shutdown the catalog log says {events(catalog_log)}, expected ['open', 'close']: "
        "close it after the yield"
    )


# --- task 2: a router with prefix, tags and a router-level dependency ---------------------------


@pytest.mark.task(2)
@pytest.mark.white_box
def test_router_declares_prefix_tags_and_the_key_dependency():
    # White-box: the same paths, tags and checks could come from include_router instead; the
    # task is that the router itself carries them.
    router = routers.router
    assert router.prefix == "/books", (
        f"routers.router.prefix is {router.prefix!r}, expected '/books'"
    )
    assert router.tags == ["books"], f"routers.router.tags is {router.tags}, expected ['books']"
    deps = [d.dependency for d in router.dependencies]
    assert routers.require_api_key in deps, (
        f"routers.router.dependencies holds {deps}, expected Depends(require_api_key): "
        "one dependency on the router guards every route in it"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("key", WRONG_KEYS)
def test_every_book_route_refuses_a_missing_or_wrong_key(client, key):
    for path in ["/v1/books", "/v1/books/1", "/v1/books/99", "/v1/books/abc"]:
        r = client.get(path, headers=key_headers(key))
        assert (r.status_code, payload(r)) == (401, UNAUTHORIZED), (
            f"GET {path} with X-API-Key {key!r} → {r.status_code} {payload(r)}, "
            f"expected 401 {UNAUTHORIZED}: the router's dependency checks the key first"
        )


@pytest.mark.task(2)
def test_books_are_served_with_the_right_key_from_the_lifespans_catalog(client_with_log):
    client, log = client_with_log
    checks = [
        ("/v1/books", 200, BOOKS),
        ("/v1/books/2", 200, BOOKS[1]),
        ("/v1/books/99", 404, {"detail": "Book not found"}),
    ]
    for path, status, body in checks:
        r = client.get(path, headers=key_headers())
        assert (r.status_code, payload(r)) == (status, body), (
            f"GET {path} with the key → {r.status_code} {payload(r)}, expected {status} {body}"
        )
    r = client.get("/v1/books/abc", headers=key_headers())
    assert r.status_code == 422, f"GET /v1/books/abc with the key → {r.status_code}, expected 422"
    assert events(log) == ["open"], (
        f"after four book requests the catalog log says {events(log)}, expected ['open']: "
        "the routes read the lifespan's catalog through get_catalog, never a catalog of their own"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("path", ["/v1/books", "/v1/books/{book_id}"])
def test_the_api_key_is_documented_on_every_book_operation(client, path):
    doc = openapi(client)
    operation = doc["paths"].get(path, {}).get("get", {})
    as_header = any(
        p.get("in") == "header" and p.get("name", "").lower() == "x-api-key"
        for p in operation.get("parameters", [])
    )
    schemes = doc.get("components", {}).get("securitySchemes", {})
    as_security = any(
        schemes.get(name, {}).get("in") == "header"
        and schemes.get(name, {}).get("name", "").lower() == "x-api-key"
        for requirement in operation.get("security", [])
        for name in requirement
    )
    assert as_header or as_security, (
        f"/openapi.json: GET {path} does not mention X-API-Key, expected it as a header parameter: "
        "declare it with Header() in require_api_key, not by reading request.headers"
    )


# --- task 3: one router, two versions -----------------------------------------------------------


@pytest.mark.task(3)
@pytest.mark.parametrize(("path", "body"), [("/books", BOOKS), ("/books/3", BOOKS[2])])
def test_both_versions_serve_the_same_books_from_one_catalog(client_with_log, path, body):
    client, log = client_with_log
    for version in ("/v1", "/v2"):
        r = client.get(version + path, headers=key_headers())
        assert (r.status_code, payload(r)) == (200, body), (
            f"GET {version}{path} with the key → {r.status_code} {payload(r)}, expected 200 {body}"
        )
        r = client.get(version + path, headers=key_headers("wrong"))
        assert (r.status_code, payload(r)) == (401, UNAUTHORIZED), (
            f"GET {version}{path} with a wrong key → {r.status_code} {payload(r)}, "
            f"expected 401 {UNAUTHORIZED}"
        )
    assert events(log) == ["open"], (
        f"after requests to both versions the catalog log says {events(log)}, expected ['open']"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("path", ["/books", "/books/3"])
def test_successful_v1_responses_carry_the_deprecation_date(client, path):
    r = client.get("/v1" + path, headers=key_headers())
    got = (r.status_code, r.headers.get("Deprecation"))
    assert got == (200, DEPRECATION), (
        f"GET /v1{path} → (status, Deprecation) {got}, expected (200, {DEPRECATION!r}): "
        "RFC 9745's form is @ and the Unix time, here routers.V1_DEPRECATED_SINCE"
    )
    r = client.get("/v2" + path, headers=key_headers())
    got = (r.status_code, r.headers.get("Deprecation"))
    assert got == (200, None), (
        f"GET /v2{path} → (status, Deprecation) {got}, expected (200, None): v2 is current"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("path", "key", "status"),
    [("/books", None, 401), ("/books/99", KEY, 404), ("/books/abc", KEY, 422)],
)
def test_error_responses_carry_no_deprecation_header(client, path, key, status):
    # The header is set on the injected Response; an error answers with a response of its own.
    ok = client.get("/v1/books", headers=key_headers())
    assert ok.headers.get("Deprecation") == DEPRECATION, (
        f"GET /v1/books → Deprecation {ok.headers.get('Deprecation')!r}, expected {DEPRECATION!r}"
    )
    for version in ("/v1", "/v2"):
        r = client.get(version + path, headers=key_headers(key))
        got = (r.status_code, r.headers.get("Deprecation"))
        assert got == (status, None), (
            f"GET {version}{path} → (status, Deprecation) {got}, expected ({status}, None): only "
            "v1's successful responses carry the header (set by the v1 inclusion's dependency)"
        )


@pytest.mark.task(3)
def test_openapi_marks_only_v1_as_deprecated(client):
    paths = openapi(client)["paths"]
    for path in BOOK_PATHS:
        assert path in paths, f"/openapi.json has paths {sorted(paths)}, expected {path}"
        deprecated = paths[path]["get"].get("deprecated", False)
        expected = path.startswith("/v1")
        assert deprecated is expected, (
            f"/openapi.json: GET {path} deprecated={deprecated}, expected {expected}"
        )


# --- task 4: settings -------------------------------------------------------------------------


@pytest.fixture
def prefixed_only(monkeypatch):
    """Only BOOKSHELF_* variables count: the unprefixed ones are set to values that must lose."""
    monkeypatch.setenv("API_KEY", "unprefixed-key")
    monkeypatch.setenv("APP_NAME", "Unprefixed")


@pytest.mark.task(4)
def test_settings_come_from_prefixed_environment_variables(monkeypatch, prefixed_only):
    monkeypatch.setenv("BOOKSHELF_APP_NAME", "Shelf QA")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = client.get("/info")
    expected = {"app_name": "Shelf QA", "books": 3}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"GET /info with BOOKSHELF_APP_NAME='Shelf QA' (and APP_NAME='Unprefixed') → "
        f"{r.status_code} {payload(r)}, expected 200 {expected}: use env_prefix='BOOKSHELF_'"
    )


@pytest.mark.task(4)
def test_app_name_defaults_to_bookshelf(prefixed_only):
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = client.get("/info")
    expected = {"app_name": "Bookshelf", "books": 3}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"GET /info without BOOKSHELF_APP_NAME (APP_NAME='Unprefixed') → {r.status_code} "
        f"{payload(r)}, expected 200 {expected}"
    )


@pytest.mark.task(4)
def test_a_missing_api_key_stops_the_startup(monkeypatch, prefixed_only):
    monkeypatch.delenv("BOOKSHELF_API_KEY")
    try:
        with TestClient(kata.app, raise_server_exceptions=False) as client:
            r = client.get("/info")
    except Exception:  # the lifespan's get_settings() raised ValidationError: the app did not start
        return
    pytest.fail(
        f"without BOOKSHELF_API_KEY the app started and GET /info → {r.status_code} {payload(r)}; "
        "expected the startup to fail: give api_key no default (the lifespan calls get_settings())"
    )


@pytest.fixture
def dotenv(monkeypatch, tmp_path):
    """A .env file in the app's working folder, holding the key (none in the environment)."""
    monkeypatch.delenv("BOOKSHELF_API_KEY")
    monkeypatch.delenv("API_KEY")
    path = tmp_path / ".env"
    path.write_text("BOOKSHELF_APP_NAME=From the file\nBOOKSHELF_API_KEY=file-key\n", "utf-8")
    return path


@pytest.mark.task(4)
def test_settings_read_a_dotenv_file(dotenv):
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = client.get("/info")
    expected = {"app_name": "From the file", "books": 3}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"GET /info with a .env holding BOOKSHELF_APP_NAME='From the file' and the key → "
        f"{r.status_code} {payload(r)}, expected 200 {expected}: set env_file='.env'"
    )


@pytest.mark.task(4)
def test_the_environment_wins_over_the_dotenv_file(monkeypatch, dotenv):
    monkeypatch.setenv("BOOKSHELF_APP_NAME", "From the environment")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        r = client.get("/info")
    expected = {"app_name": "From the environment", "books": 3}
    assert (r.status_code, payload(r)) == (200, expected), (
        f"GET /info with BOOKSHELF_APP_NAME in the environment and in .env → {r.status_code} "
        f"{payload(r)}, expected 200 {expected}: environment variables win over .env"
    )


@pytest.mark.task(4)
def test_get_settings_reads_the_configuration_once(tmp_path, prefixed_only):
    dotenv = tmp_path / ".env"
    dotenv.write_text("BOOKSHELF_APP_NAME=First\n", encoding="utf-8")
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        first = client.get("/info")
        dotenv.write_text("BOOKSHELF_APP_NAME=Second\n", encoding="utf-8")
        later = client.get("/info")
    got = (payload(first), payload(later))
    expected = ({"app_name": "First", "books": 3}, {"app_name": "First", "books": 3})
    assert got == expected, (
        f"GET /info, then .env changed, then GET /info → {got}, expected {expected}: "
        "get_settings() builds Settings once (functools.lru_cache) and returns it every time"
    )


@pytest.mark.task(4)
@pytest.mark.white_box
def test_routes_use_settings_through_the_overridable_dependency(client):
    # White-box: app.dependency_overrides lives in the app's process.
    fake = settings.Settings(app_name="Overridden", api_key="override-key")
    kata.app.dependency_overrides[settings.get_settings] = lambda: fake
    try:
        r = client.get("/info")
        assert payload(r) == {"app_name": "Overridden", "books": 3}, (
            f"GET /info with get_settings overridden → {payload(r)}, expected app_name "
            "'Overridden': /info must get its settings from Depends(get_settings)"
        )
        r = client.get("/v1/books", headers=key_headers("override-key"))
        assert r.status_code == 200, (
            f"GET /v1/books with the overridden key → {r.status_code}, expected 200: "
            "require_api_key must get its settings from Depends(get_settings)"
        )
        r = client.get("/v1/books", headers=key_headers(KEY))
        assert r.status_code == 401, (
            f"GET /v1/books with the environment's key while overridden → {r.status_code}, "
            "expected 401"
        )
    finally:
        kata.app.dependency_overrides.clear()


# --- task 5: a mounted sub-application --------------------------------------------------------


@pytest.mark.task(5)
def test_internal_health_is_served_without_a_key(client):
    r = client.get("/internal/health")
    assert (r.status_code, payload(r)) == (200, {"status": "ok"}), (
        f"GET /internal/health → {r.status_code} {payload(r)}, expected 200 {{'status': 'ok'}}"
    )


@pytest.mark.task(5)
def test_the_sub_application_has_its_own_openapi_document(client):
    r = client.get("/internal/openapi.json")
    assert r.status_code == 200, (
        f"GET /internal/openapi.json → {r.status_code}, expected 200: mount a FastAPI app, "
        "do not include its routes"
    )
    assert list(r.json()["paths"]) == ["/health"], (
        f"GET /internal/openapi.json → paths {list(r.json()['paths'])}, expected ['/health']"
    )
    main_paths = list(openapi(client)["paths"])
    leaked = [p for p in main_paths if "health" in p or p.startswith("/internal")]
    assert not leaked, (
        f"/openapi.json lists {leaked}, "
        "expected the sub-application's paths only in its own document"
    )


# --- task 6: the OpenAPI document shows tags and prefixes ------------------------------------


@pytest.mark.task(6)
def test_openapi_has_the_versioned_paths_only(client):
    paths = set(openapi(client)["paths"])
    expected = {*BOOK_PATHS, "/info"}
    assert paths == expected, (
        f"/openapi.json paths {sorted(paths)}, expected exactly {sorted(expected)}: book paths "
        "only under /v1 and /v2"
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("path", BOOK_PATHS)
def test_each_book_operation_is_tagged_with_books_and_its_version(client, path):
    operation = openapi(client)["paths"].get(path, {}).get("get", {})
    tags = operation.get("tags", [])
    expected = {"books", path.split("/")[1]}
    assert sorted(tags) == sorted(expected), (
        f"/openapi.json: GET {path} tags {tags}, expected {sorted(expected)} (each once)"
    )


TAGS = [
    {"name": "books", "description": "Read the catalog. Every call needs `X-API-Key`."},
    {"name": "v1", "description": "Deprecated since 2026-01-01: move to v2."},
    {"name": "v2", "description": "The current version."},
    {"name": "meta", "description": "About the service."},
]


@pytest.mark.task(6)
def test_tags_are_described(client):
    described = {t.get("name"): t.get("description") for t in openapi(client).get("tags", [])}
    for name in ("books", "v1", "v2"):
        assert described.get(name), (
            f"/openapi.json top-level tags {described}, expected a description for {name!r}: "
            "pass openapi_tags to FastAPI()"
        )


@pytest.mark.task(6)
def test_the_document_has_its_title_and_exactly_the_four_tags_in_order(client):
    document = openapi(client)
    title = document.get("info", {}).get("title")
    assert title == "Bookshelf API", f"/openapi.json title {title!r}, expected 'Bookshelf API'"
    tags = document.get("tags")
    assert tags == TAGS, f"/openapi.json top-level tags {tags}, expected exactly {TAGS}"
