# Kata 11 · Capstone — the application: startup, routers, error handler.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import notes
import security
from config import get_settings
from db import init_db
from errors import AppError, app_error_handler


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db(get_settings().database)
    yield


app = FastAPI(title="Notes", lifespan=lifespan)
app.add_exception_handler(AppError, app_error_handler)
app.include_router(security.router)
app.include_router(notes.router)
