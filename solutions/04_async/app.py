"""Reference solution for kata 04 · Async endpoints."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

DB_LATENCY = 1.0  # seconds our pretend database takes to answer a (slow) query
RENDER_SECONDS = 1.0  # seconds the blocking report renderer holds its thread


class Settings(BaseSettings):
    """Read from GATEWAY_* environment variables; the defaults are production's."""

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
    """How the client reaches the upstreams: TCP (None, httpx's default) or a Unix socket."""
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
    """A blocking library call (think: a PDF renderer, a sync database driver)."""
    time.sleep(RENDER_SECONDS)
    return f"report {report_id}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One client, so one pool of connections, for the whole life of the app: opened at startup
    # (the settings are read here, not at import), closed at shutdown by the `async with`.
    settings = get_settings()
    transport = upstream_transport(settings)
    async with httpx.AsyncClient(base_url=settings.upstream_url, transport=transport) as client:
        app.state.http_client = client
        yield


app = FastAPI(lifespan=lifespan)


async def get_http_client(request: Request) -> httpx.AsyncClient:
    # `async def` although nothing is awaited: it spares a trip to the thread pool.
    return request.app.state.http_client


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_upstream(client: httpx.AsyncClient, path: str, deadline: float) -> Any:
    """GET one upstream path: 504 if it takes longer than `deadline` seconds, 502 if it fails."""
    try:
        # The deadline covers the whole call; httpx's own timeouts bound each socket operation.
        response = await asyncio.wait_for(client.get(path), deadline)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"upstream {path} timed out") from None
    except httpx.RequestError:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"upstream {path} unreachable") from None
    if response.is_error:  # any status of 400 or more
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
async def read_dashboard(client: HttpClient, settings: SettingsDep) -> dict[str, Any]:
    # Start every call, then wait once: the slowest upstream sets the pace, not the sum.
    answers = await asyncio.gather(
        *(fetch_upstream(client, f"/{part}", settings.upstream_timeout) for part in DASHBOARD_PARTS)
    )
    return dict(zip(DASHBOARD_PARTS, answers, strict=True))


@app.get("/prices")
async def read_prices(
    symbols: Annotated[list[str], Query()], client: HttpClient, settings: SettingsDep
) -> list[Quote]:
    slots = asyncio.Semaphore(settings.max_upstream_concurrency)  # one per request, shared

    async def fetch_quote(symbol: str) -> Quote:
        async with slots:  # the deadline starts once a slot is free: the call, not the queue
            answer = await fetch_upstream(client, f"/quotes/{symbol}", settings.upstream_timeout)
        return Quote.model_validate(answer)

    # gather keeps the order of the symbols, whatever order the answers arrive in.
    return await asyncio.gather(*(fetch_quote(symbol) for symbol in symbols))


@app.get("/reports/{report_id}")
def read_report(report_id: int) -> Report:
    # A plain `def`: FastAPI runs it in a worker thread, so the wait blocks that thread only.
    return Report(report_id=report_id, content=render_report(report_id))


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
