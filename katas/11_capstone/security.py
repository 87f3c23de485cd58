# Kata 11 · Capstone — accounts: bcrypt password hashes (task 2), JWT access tokens (task 3).

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from passlib.context import CryptContext
from pydantic import BaseModel

from config import Settings, SettingsDep
from db import DbDep

ALGORITHM = "HS256"

router = APIRouter(prefix="/auth")  # TODO (task 7): tag these routes "auth"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


class UserIn(BaseModel):
    """TODO (task 2): username 3–30 characters of a-z, 0-9 and _; password at least 8
    characters and at most 72 bytes in UTF-8 (bcrypt reads no further)."""

    username: str
    password: str


class User(BaseModel):
    id: int
    username: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


def password_context(rounds: int) -> CryptContext:
    """TODO (task 2): a passlib context that hashes with bcrypt at cost `rounds`."""
    raise NotImplementedError("password_context: TODO (task 2)")


def create_access_token(username: str, settings: Settings) -> str:
    """TODO (task 3): an HS256 JWT with `sub` and `exp` (settings.access_token_minutes away)."""
    raise NotImplementedError("create_access_token: TODO (task 3)")


# TODO (task 8): from here on everything is `async def`, yet sqlite3 and bcrypt block.
async def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)], conn: DbDep, settings: SettingsDep
) -> User:
    """TODO (task 3): the user the token names (HS256 only; `exp` and `sub` required), or 401
    with `WWW-Authenticate: Bearer`."""
    raise NotImplementedError("get_current_user: TODO (task 3)")


CurrentUser = Annotated[User, Depends(get_current_user)]


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(user: UserIn, conn: DbDep, settings: SettingsDep) -> User:
    """TODO (task 2): store the user with a bcrypt hash; a taken username is UsernameTaken."""
    raise NotImplementedError("register: TODO (task 2)")


@router.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: DbDep, settings: SettingsDep
) -> Token:
    """TODO (task 3): a token for the right password; 400 for any wrong username or password.

    An unknown username costs one bcrypt check too: against a dummy hash of the configured cost.
    """
    raise NotImplementedError("login: TODO (task 3)")


@router.get("/me")
async def read_me(user: CurrentUser) -> User:
    return user
