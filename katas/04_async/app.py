# Kata 04 · Async endpoints: make the service wait on I/O without making anyone else wait.
# Fill in every `# TODO (task N)`; README.md gives the HTTP contract of each endpoint.
# Run `nox -s async` to grade.

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel

# The tests rely on these values; leave them as they are.
UPSTREAM_URL = "http://upstream.internal"  # the weather, news, calendar and quote services
UPSTREAM_TIMEOUT = 0.5  # seconds one upstream call may take before we give up on it
MAX_UPSTREAM_CONCURRENCY = 3  # upstream calls one /prices request may have in flight
DB_LATENCY = 0.3  # seconds our pretend database takes to answer a query
RENDER_SECONDS = 0.6  # seconds the blocking report renderer holds its thread


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
    """Open one `httpx.AsyncClient(base_url=UPSTREAM_URL)` at startup, keep it on
    `app.state.http_client` while the app runs, and close it at shutdown."""
    yield


app = FastAPI(lifespan=lifespan)


# TODO (task 6)
async def get_http_client(request: Request) -> httpx.AsyncClient:
    """Dependency: the client the lifespan opened (the same one for every request)."""
    raise NotImplementedError("task 6: give endpoints the lifespan's client")


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
async def read_dashboard(client: HttpClient) -> dict[str, Any]:
    """GET /weather, /news and /calendar from the upstreams, all at once, and answer
    {"weather": ..., "news": ..., "calendar": ...} with each upstream's JSON.
    Task 4: an upstream slower than UPSTREAM_TIMEOUT → 504; one answering an error → 502;
    the detail names the upstream path."""
    raise NotImplementedError("task 2: fan out to the upstreams")


# TODO (task 5)
@app.get("/prices")
async def read_prices(symbols: Annotated[list[str], Query()], client: HttpClient) -> list[Quote]:
    """GET /quotes/{symbol} for every symbol, with at most MAX_UPSTREAM_CONCURRENCY calls in
    flight at once; answer the quotes in the order the symbols were asked."""
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
