"""Reference solution for kata 04 · Async endpoints."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from pydantic import BaseModel

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
    """A blocking library call (think: a PDF renderer, a sync database driver)."""
    time.sleep(RENDER_SECONDS)
    return f"report {report_id}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One client, so one connection pool, for the whole life of the app.
    async with httpx.AsyncClient(base_url=UPSTREAM_URL) as client:
        app.state.http_client = client
        yield


app = FastAPI(lifespan=lifespan)


async def get_http_client(request: Request) -> httpx.AsyncClient:
    # `async def` although nothing is awaited: it spares a trip to the threadpool.
    return request.app.state.http_client


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_upstream(client: httpx.AsyncClient, path: str) -> Any:
    """GET one upstream path: 504 if it is slower than UPSTREAM_TIMEOUT, 502 if it fails."""
    try:
        # httpx's own timeouts bound each socket operation, not the whole call.
        response = await asyncio.wait_for(client.get(path), UPSTREAM_TIMEOUT)
    except asyncio.TimeoutError:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"upstream {path} timed out") from None
    if response.is_error:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"upstream {path} answered {response.status_code}"
        )
    return response.json()


async def fetch_profile(user_id: int) -> Profile:
    """Stand-in for an async database driver: the loop serves others during the wait."""
    await asyncio.sleep(DB_LATENCY)
    return Profile(user_id=user_id, name=f"user-{user_id}")


@app.get("/profiles/{user_id}")
async def read_profile(user_id: int) -> Profile:
    return await fetch_profile(user_id)


DASHBOARD_PARTS = ("weather", "news", "calendar")


@app.get("/dashboard")
async def read_dashboard(client: HttpClient) -> dict[str, Any]:
    # Start every call, then wait once: the slowest upstream sets the pace, not the sum.
    answers = await asyncio.gather(
        *(fetch_upstream(client, f"/{part}") for part in DASHBOARD_PARTS)
    )
    return dict(zip(DASHBOARD_PARTS, answers, strict=True))


@app.get("/prices")
async def read_prices(symbols: Annotated[list[str], Query()], client: HttpClient) -> list[Quote]:
    slots = asyncio.Semaphore(MAX_UPSTREAM_CONCURRENCY)  # one per request, shared by its calls

    async def fetch_quote(symbol: str) -> Quote:
        async with slots:
            return Quote.model_validate(await fetch_upstream(client, f"/quotes/{symbol}"))

    return await asyncio.gather(*(fetch_quote(symbol) for symbol in symbols))


@app.get("/reports/{report_id}")
def read_report(report_id: int) -> Report:
    # A plain `def`: FastAPI runs it in a worker thread, so the wait blocks that thread only.
    return Report(report_id=report_id, content=render_report(report_id))


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
