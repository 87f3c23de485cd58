# Kata 04 · Async endpoints: make the service wait on I/O without making anyone else wait.
# Fill in every `# TODO (task N)`; README.md gives the HTTP contract of each endpoint.
# Run `nox -s async` to grade.

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

# The tests rely on these values; leave them as they are.
DB_LATENCY = 1.0  # seconds our pretend database takes to answer a (slow) query
RENDER_SECONDS = 1.0  # seconds the blocking report renderer holds its thread


class Settings(BaseSettings):
    """Read from GATEWAY_* environment variables; the defaults are production's. Given."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    upstream_url: str = "http://upstream.internal"  # the weather, news, calendar, quote services
    upstream_socket: str | None = None  # reach them through this Unix socket instead of TCP
    upstream_timeout: float = 0.5  # seconds one upstream call may take before we give up on it
    max_upstream_concurrency: int = 3  # upstream calls one /prices request may have in flight


@lru_cache
def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


def upstream_transport(settings: Settings) -> httpx.AsyncBaseTransport | None:
    """How the client reaches the upstreams: TCP (None, httpx's default) or a Unix socket. Given."""
    if settings.upstream_socket is None:
        return None
    # Plain HTTP over a local socket: no TLS, so no certificate bundle to load.
    return httpx.AsyncHTTPTransport(uds=settings.upstream_socket, verify=False)


class Profile(BaseModel):
    user_id: int
    name: str


class Report(BaseModel):
    report_id: int
    content: str


class Quote(BaseModel):
    symbol: str
    price: float


def render_report(report_id: int) -> str:
    """A blocking library call (think: a PDF renderer, a sync database driver). Given."""
    time.sleep(RENDER_SECONDS)
    return f"report {report_id}"


# TODO (task 6)
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open one httpx.AsyncClient at startup (base_url=settings.upstream_url,
    transport=upstream_transport(settings)), keep it on `app.state.http_client` while the app
    runs, and close it at shutdown."""
    yield


app = FastAPI(lifespan=lifespan)


# TODO (task 6)
async def get_http_client(settings: SettingsDep) -> AsyncIterator[httpx.AsyncClient]:
    """Dependency: the client the endpoints call the upstreams with.

    For now a new client for every request: it works, but it throws its connections away each
    time. Task 6: give every request the one client the lifespan opened."""
    transport = upstream_transport(settings)
    async with httpx.AsyncClient(base_url=settings.upstream_url, transport=transport) as client:
        yield client


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


# TODO (task 1)
async def fetch_profile(user_id: int) -> Profile:
    """Stand-in for an async database driver: wait DB_LATENCY seconds without blocking the
    event loop, then return Profile(user_id=user_id, name=f"user-{user_id}")."""
    raise NotImplementedError("task 1: wait for the pretend database")


# TODO (task 1)
@app.get("/profiles/{user_id}")
async def read_profile(user_id: int) -> Profile:
    """Answer with the profile fetch_profile finds."""
    raise NotImplementedError("task 1: read the profile")


# TODO (task 2)
# TODO (task 4)
@app.get("/dashboard")
async def read_dashboard(client: HttpClient, settings: SettingsDep) -> dict[str, Any]:
    """GET /weather, /news and /calendar from the upstreams, all at once, and answer
    {"weather": ..., "news": ..., "calendar": ...} with each upstream's JSON.
    Task 4: a call slower than settings.upstream_timeout → 504; an upstream that cannot be
    reached or answers 400 or more → 502; the detail names the upstream path."""
    raise NotImplementedError("task 2: fan out to the upstreams")


# TODO (task 5)
@app.get("/prices")
async def read_prices(
    symbols: Annotated[list[str], Query()], client: HttpClient, settings: SettingsDep
) -> list[Quote]:
    """GET /quotes/{symbol} for every symbol, with at most settings.max_upstream_concurrency
    calls in flight at once; answer the quotes in the order the symbols were asked.
    Task 4: the same deadline and errors as /dashboard."""
    raise NotImplementedError("task 5: fetch the quotes, a few at a time")


# TODO (task 3)
@app.get("/reports/{report_id}")
async def read_report(report_id: int) -> Report:
    """Answer Report(report_id=..., content=render_report(report_id)) without blocking the
    event loop while render_report runs."""
    raise NotImplementedError("task 3: render the report off the event loop")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
