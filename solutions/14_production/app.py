# Kata 14 · Production: a product catalog ready for a real server — health probes, graceful
# shutdown, workers, compression, conditional requests and a rate limit.

import asyncio
import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

from settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


class Product(BaseModel):
    id: int
    name: str
    price: float
    description: str


PRODUCT_LIST = TypeAdapter(list[Product])


def load_catalog(settings: Settings) -> dict[int, Product]:
    """The catalog file's products by id, in id order (a missing or broken file raises)."""
    products = PRODUCT_LIST.validate_json(settings.catalog_file.read_bytes())
    return {product.id: product for product in sorted(products, key=lambda p: p.id)}


# --- Task 3: what this process has served (each worker process has its own) ---


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"pid": os.getpid(), "requests": self.requests, "in_flight": self.in_flight}


STATS = Stats()


# --- Task 7: a fixed window per client, opened by the client's first request ---


class RateLimiter:
    def __init__(self) -> None:
        self.windows: dict[str, tuple[float, int]] = {}  # client → (window start, requests)

    def wait(self, client: str, limit: int, window: float, now: float) -> float:
        """Count one request of `client`; 0 if it may go on, else the seconds until it may."""
        start, count = self.windows.get(client, (now, 0))
        if now - start >= window:
            start, count = now, 0
        if count >= limit:
            return start + window - now
        self.windows[client] = (start, count + 1)
        return 0


# --- Tasks 1, 2 and 3: the lifespan ---


async def warm_up(app: FastAPI, seconds: float) -> None:
    """Stands for slow start-up work (priming a cache, loading a model), done beside serving."""
    await asyncio.sleep(seconds)
    app.state.ready = True


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()  # a missing or invalid setting raises: the app refuses to start
    app.state.catalog = load_catalog(settings)
    app.state.limiter = RateLimiter()
    warming = None
    if settings.warmup_seconds > 0:
        warming = asyncio.create_task(warm_up(app, settings.warmup_seconds))
    else:
        app.state.ready = True
    try:
        yield
    finally:
        # Uvicorn gets here once the requests in flight are answered.
        if warming is not None:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
        if settings.stats_file is not None:
            settings.stats_file.write_text(json.dumps(STATS.as_dict()))


app = FastAPI(title="Catalog", lifespan=lifespan)
app.state.ready = False
app.add_middleware(GZipMiddleware, minimum_size=1000)  # Task 5


@app.middleware("http")
async def count_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    STATS.requests += 1
    STATS.in_flight += 1
    try:
        return await call_next(request)
    finally:
        STATS.in_flight -= 1


# --- Task 2: health probes ---


@app.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and its event loop answers: nothing else is checked."""
    return {"status": "alive"}


@app.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Ready for traffic once the lifespan has started the app and the warm-up is done."""
    if getattr(request.app.state, "ready", False):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "starting"}, status_code=503)


@app.get("/stats")
async def stats() -> dict[str, int]:
    return STATS.as_dict()


@app.get("/slow")
async def slow(seconds: Annotated[float, Query(gt=0, le=10)] = 1.0) -> dict[str, float]:
    """Given: stands for a slow endpoint (a report, a call to another service)."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


# --- Task 7: the limit, on every product route ---


async def rate_limit(request: Request, settings: SettingsDep) -> None:
    client = request.client.host if request.client else "unknown"
    wait = request.app.state.limiter.wait(
        client, settings.rate_limit, settings.rate_window_seconds, time.monotonic()
    )
    if wait:
        raise HTTPException(
            status_code=429,
            detail="Too many requests",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


# --- Task 6: validators and caching headers ---


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" and "x" are the same tag."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def conditional(request: Request, body: bytes) -> Response:
    """The JSON body with its ETag and Cache-Control, or a 304 when the client has it."""
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


products = APIRouter(prefix="/products", tags=["products"], dependencies=[Depends(rate_limit)])


@products.get("", response_model=list[Product])
async def list_products(request: Request) -> Response:
    catalog: dict[int, Product] = request.app.state.catalog
    return conditional(request, PRODUCT_LIST.dump_json(list(catalog.values())))


@products.get("/{product_id}", response_model=Product)
async def read_product(product_id: int, request: Request) -> Response:
    catalog: dict[int, Product] = request.app.state.catalog
    if product_id not in catalog:
        raise HTTPException(status_code=404, detail="Product not found")
    return conditional(request, catalog[product_id].model_dump_json().encode())


app.include_router(products)
