"""Bigger applications: the bookshelf API assembled from modules (reference solution)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI

import routers
from catalog import Catalog, get_catalog
from settings import Settings, get_settings


class State(TypedDict):
    catalog: Catalog


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    get_settings()  # a missing BOOKSHELF_API_KEY stops the app here, at startup
    catalog = Catalog()
    catalog.open()
    try:
        # What we yield becomes request.state for every request, mounted apps included.
        yield {"catalog": catalog}
    finally:
        catalog.close()


app = FastAPI(
    title="Bookshelf API",
    lifespan=lifespan,
    openapi_tags=[
        {"name": "books", "description": "Read the catalog. Every call needs `X-API-Key`."},
        {"name": "v1", "description": "Deprecated since 2026-01-01: move to v2."},
        {"name": "v2", "description": "The current version."},
        {"name": "meta", "description": "About the service."},
    ],
)

# One router, two versions: only v1 is deprecated (in the docs and in a response header).
app.include_router(
    routers.router,
    prefix="/v1",
    tags=["v1"],
    deprecated=True,
    dependencies=[Depends(routers.mark_deprecated)],
)
app.include_router(routers.router, prefix="/v2", tags=["v2"])


@app.get("/info", tags=["meta"])
def info(
    settings: Annotated[Settings, Depends(get_settings)],
    catalog: Annotated[Catalog, Depends(get_catalog)],
) -> dict[str, str | int]:
    return {"app_name": settings.app_name, "books": len(catalog.list())}


# A separate application with its own OpenAPI document and docs, served under /internal.
internal_app = FastAPI(title="Bookshelf internal")


@internal_app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


app.mount("/internal", internal_app)
