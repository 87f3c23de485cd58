"""app_error_handler is written but never registered, so AppError keeps FastAPI's default body."""

# Kata 11 · Capstone — the application: startup, routers, error handler.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import notes
import security
from config import get_settings
from db import init_db


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db(get_settings().database)
    yield


app = FastAPI(title="Notes", lifespan=lifespan)
app.include_router(security.router)
app.include_router(notes.router)
