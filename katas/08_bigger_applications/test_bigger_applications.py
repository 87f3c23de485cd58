"""Kata 08 · Bigger applications — what the bookshelf API must do."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import app as kata
import catalog
import routers
import settings

# These tests reach inside the kata's modules (fixtures patch its settings and state).
pytestmark = pytest.mark.white_box

ENV_KEY = "test-key"
BOOK_PATHS = ["/v1/books", "/v1/books/{book_id}", "/v2/books", "/v2/books/{book_id}"]


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    """Every test starts from the same environment, an empty settings cache and no overrides."""
    for name in ("BOOKSHELF_APP_NAME", "APP_NAME", "API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOOKSHELF_API_KEY", ENV_KEY)
    clear_cache = getattr(settings.get_settings, "cache_clear", lambda: None)
    clear_cache()
    yield
    clear_cache()
    kata.app.dependency_overrides.clear()


def key_headers():
    # Whatever key the settings hold right now, so tasks 1-3 do not depend on task 4.
    return {"X-API-Key": settings.get_settings().api_key}


@pytest.fixture
def client():
    """A client whose catalog is opened by the test, so tasks 1, 2, 4 and 6 do not need task 3."""
    test_catalog = catalog.Catalog()
    test_catalog.open()
    kata.app.dependency_overrides[catalog.get_catalog] = lambda: test_catalog
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def openapi(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200, f"GET /openapi.json → {r.status_code}, expected 200"
    return r.json()


# --- task 1: a router with prefix, tags and a router-level dependency ---------------------------


@pytest.mark.task(1)
def test_router_declares_prefix_tags_and_the_key_dependency():
    router = routers.router
    assert router.prefix == "/books", (
        f"routers.router.prefix is {router.prefix!r}, expected '/books'"
    )
    assert "books" in router.tags, f"routers.router.tags is {router.tags}, expected 'books' in it"
    deps = [d.dependency for d in router.dependencies]
    assert routers.require_api_key in deps, (
        f"routers.router.dependencies holds {deps}, expected Depends(require_api_key): "
        "one dependency on the router guards every route in it"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("path", ["/v1/books", "/v1/books/1"])
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_every_book_route_needs_the_api_key(client, path, key):
    headers = {} if key is None else {"X-API-Key": key}
    r = client.get(path, headers=headers)
    assert r.status_code == 401, (
        f"GET {path} with X-API-Key {key!r} → {r.status_code}, expected 401"
    )


@pytest.mark.task(1)
def test_books_are_served_with_the_right_key(client):
    r = client.get("/v1/books", headers=key_headers())
    assert r.status_code == 200, f"GET /v1/books with the key → {r.status_code}, expected 200"
    assert [b["id"] for b in r.json()] == [1, 2, 3], (
        f"GET /v1/books → {r.json()}, expected books 1, 2, 3"
    )
    r = client.get("/v1/books/2", headers=key_headers())
    assert r.status_code == 200 and r.json().get("title") == "Kindred", (
        f"GET /v1/books/2 → {r.status_code} {r.json()}, expected 200 with title 'Kindred'"
    )
    r = client.get("/v1/books/99", headers=key_headers())
    assert r.status_code == 404, f"GET /v1/books/99 → {r.status_code}, expected 404"


# --- task 2: one router, two versions -----------------------------------------------------------


@pytest.mark.task(2)
@pytest.mark.parametrize("path", ["/books", "/books/3"])
def test_both_versions_serve_the_same_books(client, path):
    v1 = client.get("/v1" + path, headers=key_headers())
    v2 = client.get("/v2" + path, headers=key_headers())
    got = (v1.status_code, v2.status_code)
    assert got == (200, 200), f"GET /v1{path}, /v2{path} → {got}, expected (200, 200)"
    assert v1.json() == v2.json(), (
        f"GET /v1{path} and /v2{path} → different bodies, expected the same"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("path", ["/books", "/books/3"])
def test_only_v1_responses_carry_a_deprecation_header(client, path):
    v1 = client.get("/v1" + path, headers=key_headers())
    v2 = client.get("/v2" + path, headers=key_headers())
    assert "Deprecation" in v1.headers, (
        f"GET /v1{path} → headers {dict(v1.headers)}, expected a Deprecation header"
    )
    assert "Deprecation" not in v2.headers, (
        f"GET /v2{path} → Deprecation {v2.headers.get('Deprecation')!r}, "
        "expected none: v2 is current"
    )


@pytest.mark.task(2)
def test_openapi_marks_only_v1_as_deprecated(client):
    paths = openapi(client)["paths"]
    for path in BOOK_PATHS:
        assert path in paths, f"/openapi.json has paths {sorted(paths)}, expected {path}"
        deprecated = paths[path]["get"].get("deprecated", False)
        expected = path.startswith("/v1")
        assert deprecated is expected, (
            f"/openapi.json: GET {path} deprecated={deprecated}, expected {expected}"
        )


# --- task 3: lifespan -------------------------------------------------------------------------


@pytest.mark.task(3)
def test_lifespan_opens_the_catalog_once_and_closes_it_at_shutdown(monkeypatch):
    events = []
    real_open, real_close = catalog.Catalog.open, catalog.Catalog.close

    def spy_open(self):
        events.append("open")
        real_open(self)

    def spy_close(self):
        events.append("close")
        real_close(self)

    monkeypatch.setattr(catalog.Catalog, "open", spy_open)
    monkeypatch.setattr(catalog.Catalog, "close", spy_close)
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        assert events == ["open"], f"after startup the catalog saw {events}, expected ['open']"
        for _ in range(3):
            r = client.get("/info")
            assert r.status_code == 200 and r.json().get("books") == 3, (
                f"GET /info → {r.status_code} {r.json()}, expected 200 with books 3: the lifespan "
                "must yield {'catalog': catalog} so get_catalog finds it on request.state"
            )
        assert events == ["open"], (
            f"after three requests the catalog saw {events}, expected ['open']: "
            "open it once, at startup"
        )
    assert events == ["open", "close"], (
        f"after shutdown the catalog saw {events}, expected ['open', 'close']: "
        "close it after the yield"
    )


@pytest.mark.task(3)
@pytest.mark.asyncio
async def test_lifespan_yields_the_open_catalog_as_state():
    async with kata.lifespan(kata.app) as state:
        shared = (state or {}).get("catalog")
        assert isinstance(shared, catalog.Catalog) and shared.is_open, (
            f"lifespan(app) yielded {state!r}, expected {{'catalog': <an open Catalog>}}"
        )
    assert not shared.is_open, (
        "after lifespan(app) exited the catalog is still open, expected closed"
    )


# --- task 4: settings -------------------------------------------------------------------------


@pytest.mark.task(4)
def test_settings_come_from_prefixed_environment_variables(monkeypatch):
    monkeypatch.setenv("BOOKSHELF_APP_NAME", "Shelf QA")
    monkeypatch.setenv("BOOKSHELF_API_KEY", "k-123")
    s = settings.Settings()
    got = (s.app_name, s.api_key)
    assert got == ("Shelf QA", "k-123"), (
        f"Settings() with BOOKSHELF_APP_NAME=Shelf QA, BOOKSHELF_API_KEY=k-123 → {got}, "
        "expected ('Shelf QA', 'k-123')"
    )


@pytest.mark.task(4)
def test_api_key_has_no_default(monkeypatch):
    monkeypatch.delenv("BOOKSHELF_API_KEY")
    try:
        s = settings.Settings()
    except ValidationError:
        return
    pytest.fail(
        f"Settings() without BOOKSHELF_API_KEY → api_key {s.api_key!r}, expected a ValidationError"
    )


@pytest.mark.task(4)
def test_get_settings_is_cached(monkeypatch):
    first = settings.get_settings()
    monkeypatch.setenv("BOOKSHELF_APP_NAME", "Changed later")
    second = settings.get_settings()
    assert second is first, (
        "get_settings() returned a new Settings on the second call, expected the same cached object"
    )


@pytest.mark.task(4)
def test_routes_use_settings_through_the_overridable_dependency(client):
    fake = settings.Settings(app_name="Overridden", api_key="override-key")
    kata.app.dependency_overrides[settings.get_settings] = lambda: fake
    r = client.get("/info")
    assert r.json().get("app_name") == "Overridden", (
        f"GET /info with get_settings overridden → {r.json()}, expected app_name 'Overridden'"
    )
    r = client.get("/v1/books", headers={"X-API-Key": "override-key"})
    assert r.status_code == 200, (
        f"GET /v1/books with the overridden key → {r.status_code}, expected 200: "
        "require_api_key must get its settings from Depends(get_settings)"
    )
    r = client.get("/v1/books", headers={"X-API-Key": ENV_KEY})
    assert r.status_code == 401, (
        f"GET /v1/books with the environment's key while overridden → {r.status_code}, expected 401"
    )


# --- task 5: a mounted sub-application --------------------------------------------------------


@pytest.mark.task(5)
def test_internal_health_is_served_without_a_key(client):
    r = client.get("/internal/health")
    assert r.status_code == 200, f"GET /internal/health → {r.status_code}, expected 200"
    assert r.json() == {"status": "ok"}, (
        f"GET /internal/health → {r.json()}, expected {{'status': 'ok'}}"
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
    missing = set(BOOK_PATHS) - paths
    assert not missing, f"/openapi.json paths {sorted(paths)}, expected also {sorted(missing)}"
    bare = [p for p in paths if p.startswith("/books")]
    assert not bare, f"/openapi.json lists {bare}, expected book paths only under /v1 and /v2"


@pytest.mark.task(6)
@pytest.mark.parametrize("path", BOOK_PATHS)
def test_each_book_operation_is_tagged_with_books_and_its_version(client, path):
    operation = openapi(client)["paths"].get(path, {}).get("get", {})
    tags = set(operation.get("tags", []))
    expected = {"books", path.split("/")[1]}
    assert tags == expected, (
        f"/openapi.json: GET {path} tags {sorted(tags)}, expected {sorted(expected)}"
    )


@pytest.mark.task(6)
def test_tags_are_described(client):
    described = {t.get("name"): t.get("description") for t in openapi(client).get("tags", [])}
    for name in ("books", "v1", "v2"):
        assert described.get(name), (
            f"/openapi.json top-level tags {described}, expected a description for {name!r}: "
            "pass openapi_tags to FastAPI()"
        )


@pytest.mark.task(6)
@pytest.mark.parametrize("path", BOOK_PATHS)
def test_the_api_key_is_documented_on_every_book_operation(client, path):
    doc = openapi(client)
    operation = doc["paths"].get(path, {}).get("get", {})
    as_header = any(
        p.get("in") == "header" and p.get("name", "").lower() == "x-api-key"
        for p in operation.get("parameters", [])
    )
    as_security = bool(operation.get("security"))
    assert as_header or as_security, (
        f"/openapi.json: GET {path} does not mention X-API-Key, expected it as a header parameter: "
        "declare it with Header() in require_api_key, not by reading request.headers"
    )
