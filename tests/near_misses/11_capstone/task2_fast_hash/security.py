"""Passwords are stored as a fast, unsalted SHA-256 digest instead of a bcrypt hash."""

# Kata 11 · Capstone — accounts: bcrypt password hashes, JWT access tokens, the current user.

import sqlite3
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from jose import JOSEError, jwt
from passlib.context import CryptContext
from pydantic import BaseModel, Field

from config import Settings, SettingsDep
from db import DbDep
from errors import UsernameTaken

ALGORITHM = "HS256"  # the one algorithm we sign with, and the only one we accept

router = APIRouter(prefix="/auth", tags=["auth"])
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=30, pattern=r"^[a-z0-9_]+$")
    password: str = Field(min_length=8, max_length=72)  # bcrypt reads at most 72 bytes


class User(BaseModel):
    id: int
    username: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@lru_cache
def password_context(rounds: int) -> CryptContext:
    # Fast hashing: SHA-256 is built for speed, which is what a password cracker wants too.
    return CryptContext(schemes=["hex_sha256"])


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
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM])
    except JOSEError:
        raise unauthorized from None
    sql = "SELECT id, username FROM users WHERE username = ?"
    row = conn.execute(sql, (str(claims.get("sub")),)).fetchone()
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
    passwords = password_context(settings.bcrypt_rounds)
    if row is None or not passwords.verify(form.password, row["password_hash"]):
        # One answer for "no such user" and "wrong password": nothing to enumerate.
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect username or password")
    return Token(access_token=create_access_token(row["username"], settings))


@router.get("/me")
def read_me(user: CurrentUser) -> User:
    return user
