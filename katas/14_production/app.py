# Kata 14 · Production: a product catalog ready for a real server — health probes, graceful
# shutdown, workers, compression, conditional requests and a rate limit.
# Fill in each TODO (task N), then grade with `nox -s production`. The README has the contract.

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, TypeAdapter

from settings import Settings


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


@dataclass
class Stats:
    """What this process has served: every HTTP request it received, and those not answered yet."""

    requests: int = 0
    in_flight: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"pid": os.getpid(), "requests": self.requests, "in_flight": self.in_flight}


STATS = Stats()


class RateLimiter:
    """TODO (task 7): a fixed window per client, opened by the client's first request."""

    def wait(self, client: str, limit: int, window: float, now: float) -> float:
        """Count one request of `client`; 0 if it may go on, else the seconds until it may."""
        raise NotImplementedError


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # TODO (task 1): read the settings (get_settings) and load the catalog into app.state.catalog,
    #                so that a missing or invalid setting stops the start.
    # TODO (task 2): mark the app ready — at once, or after PROD_WARMUP_SECONDS, in the background.
    # TODO (task 3): on shutdown, stop a warm-up that is still running and write the stats file.
    # TODO (task 7): give the app its RateLimiter.
    yield


app = FastAPI(title="Catalog", lifespan=lifespan)
# TODO (task 5): compress responses of 1000 bytes or more for clients that accept gzip.
# TODO (task 3): count every request in STATS (requests, and in_flight while it is answered).


# TODO (task 2): serve GET /health/live.
async def live() -> dict[str, str]:
    raise NotImplementedError


# TODO (task 2): serve GET /health/ready: 200 once started and warmed up, 503 until then.
async def ready(request: Request) -> Response:
    raise NotImplementedError


# TODO (task 3): serve GET /stats: this process's STATS.
async def stats() -> dict[str, int]:
    raise NotImplementedError


@app.get("/slow")
async def slow(seconds: Annotated[float, Query(gt=0, le=10)] = 1.0) -> dict[str, float]:
    """Given: stands for a slow endpoint (a report, a call to another service)."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


# TODO (task 7): a dependency that answers 429 with Retry-After past PROD_RATE_LIMIT requests.


def conditional(request: Request, body: bytes) -> Response:
    """TODO (task 6): the JSON body with its ETag and Cache-Control, or a 304 when the client
    already has it (If-None-Match)."""
    raise NotImplementedError


# TODO (task 7): limit every product route.
products = APIRouter(prefix="/products", tags=["products"])


@products.get("")
async def list_products(request: Request) -> list[Product]:
    # TODO (task 6): answer through conditional(...)
    catalog: dict[int, Product] = request.app.state.catalog
    return list(catalog.values())


@products.get("/{product_id}")
async def read_product(product_id: int, request: Request) -> Product:
    # TODO (task 6): answer through conditional(...)
    catalog: dict[int, Product] = request.app.state.catalog
    if product_id not in catalog:
        raise HTTPException(status_code=404, detail="Product not found")
    return catalog[product_id]
