# Kata 12 · Databases — one engine for the app (task 2), one session per request (task 3).

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # At startup, not at import: the URL is the one in the environment the app runs with.
    engine = create_engine(get_settings().database_url)
    app.state.sessions = sessionmaker(engine)
    yield
    engine.dispose()  # close the pool's connections


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()  # the route succeeded: everything it did is saved, or nothing is
    except BaseException:
        session.rollback()  # the route (or the commit) failed: none of its writes happened
        raise
    finally:
        session.close()  # the connection goes back to the pool


# scope="function": the commit runs as soon as the route returns, before the response is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
