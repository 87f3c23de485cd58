# Kata 08 — bigger applications: assemble the bookshelf API from routers.py, settings.py and
# catalog.py (given). Task 1 is the lifespan below, tasks 2 and 3 start in routers.py, task 4 is
# in settings.py. Run `nox -s bigger_applications` to grade.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI

import routers
from catalog import Catalog, get_catalog
from settings import Settings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """TODO (task 1): call get_settings() first (so a bad configuration stops the startup),
    open one Catalog, yield {"catalog": catalog} (get_catalog reads it from request.state),
    and close it at shutdown."""
    yield {}


# TODO (task 1): use the lifespan. TODO (task 6): describe the tags books, v1 and v2.
app = FastAPI(title="Bookshelf API")

# TODO (task 3): include the same router under /v2 as well; only /v1 is deprecated, in the docs
# and with routers.mark_deprecated. TODO (task 6): tag each inclusion with its version.
app.include_router(routers.router, prefix="/v1")


@app.get("/info", tags=["meta"])
def info(
    settings: Annotated[Settings, Depends(get_settings)],
    catalog: Annotated[Catalog, Depends(get_catalog)],
) -> dict[str, str | int]:
    return {"app_name": settings.app_name, "books": len(catalog.list())}


# TODO (task 5): a separate application with GET /health → {"status": "ok"}, mounted at /internal.
internal_app = FastAPI(title="Bookshelf internal")
