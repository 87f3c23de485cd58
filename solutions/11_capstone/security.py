# Kata 11 · Capstone — accounts: bcrypt password hashes, JWT access tokens, the current user.

import sqlite3
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from jose import JOSEError, jwt
from passlib.context import CryptContext
from pydantic import AfterValidator, BaseModel, Field

from config import Settings, SettingsDep
from db import DbDep
from errors import UsernameTaken

ALGORITHM = "HS256"  # the one algorithm we sign with, and the only one we accept

router = APIRouter(prefix="/auth", tags=["auth"])
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


def at_most_72_bytes(password: str) -> str:
    # bcrypt reads only the first 72 bytes: "é" is 2 of them, so 72 characters can be too many.
    if len(password.encode("utf-8")) > 72:
        raise ValueError("must be at most 72 bytes in UTF-8")
    return password


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=30, pattern=r"^[a-z0-9_]+$")
    password: Annotated[str, Field(min_length=8), AfterValidator(at_most_72_bytes)]


class User(BaseModel):
    id: int
    username: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@lru_cache
def password_context(rounds: int) -> CryptContext:
    # Hashes with `rounds`; verifies a bcrypt hash of any cost (the cost is stored in the hash).
    return CryptContext(schemes=["bcrypt"], bcrypt__rounds=rounds)


@lru_cache
def dummy_hash(rounds: int) -> str:
    # What an unknown username's password is checked against: a real hash of the same cost.
    return password_context(rounds).hash("no user has this password")


def create_access_token(username: str, settings: Settings) -> str:
    expires = datetime.now(timezone.utc) + timedelta(minutes=settings.access_token_minutes)
    claims = {"sub": username, "exp": expires}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


# Plain `def` from here on: sqlite3 and bcrypt block, so FastAPI runs these in its thread pool.
def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)], conn: DbDep, settings: SettingsDep
) -> User:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        # A fixed list: the token does not get to choose how it is checked.
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require_exp": True, "require_sub": True},  # a token without exp never expires
        )
    except JOSEError:
        raise unauthorized from None
    sql = "SELECT id, username FROM users WHERE username = ?"
    row = conn.execute(sql, (claims["sub"],)).fetchone()
    if row is None:
        raise unauthorized
    return User(id=row["id"], username=row["username"])


CurrentUser = Annotated[User, Depends(get_current_user)]


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(user: UserIn, conn: DbDep, settings: SettingsDep) -> User:
    password_hash = password_context(settings.bcrypt_rounds).hash(user.password)
    try:
        cursor = conn.execute(
            "INSERT INTO users (username, password_hash) VALUES (?, ?)",
            (user.username, password_hash),
        )
    except sqlite3.IntegrityError:  # the UNIQUE constraint: no check-then-insert race
        raise UsernameTaken(user.username) from None
    return User(id=cursor.lastrowid, username=user.username)


@router.post("/token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: DbDep, settings: SettingsDep
) -> Token:
    sql = "SELECT username, password_hash FROM users WHERE username = ?"
    row = conn.execute(sql, (form.username,)).fetchone()
    # An unknown username is checked against a dummy hash of the same cost, so both failures
    # cost one bcrypt check and give the same answer: neither the time nor the body tells them apart.
    stored = row["password_hash"] if row else dummy_hash(settings.bcrypt_rounds)
    correct = password_context(settings.bcrypt_rounds).verify(form.password, stored)
    if row is None or not correct:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect username or password")
    return Token(access_token=create_access_token(row["username"], settings))


@router.get("/me")
async def read_me(user: CurrentUser) -> User:  # no I/O of its own: async def is fine
    return user
