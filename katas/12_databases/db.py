# Kata 12 · Databases — one engine for the app (task 2), one session per request (task 3).

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from settings import get_settings

# TODO (task 2): this engine is made at import, from the settings as they are then, as FastAPI's
# tutorial does. Make it in the lifespan instead, at startup, from the settings the app runs with.
engine = create_engine(get_settings().database_url)
SessionLocal = sessionmaker(engine)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """TODO (task 2): create the engine and a session factory for get_session; dispose of the
    engine at shutdown."""
    yield


def get_session(request: Request) -> Iterator[Session]:
    """TODO (task 3): one session per request, from the lifespan's factory. Commit when the
    route succeeds, roll back when it fails, and close the session either way."""
    yield SessionLocal()


# TODO (task 3): commit before the response is sent, so that a failed commit is never a 201.
SessionDep = Annotated[Session, Depends(get_session)]
