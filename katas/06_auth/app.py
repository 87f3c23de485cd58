# Kata 06 · Authentication and authorization: hash passwords, hand out JWTs at POST /token,
# check the token on every request and let OAuth2 scopes limit what it may do.
# Fill in each TODO (the README says what each task wants); run `nox -s auth` to grade.
# Installed for you: python-jose and passlib (bcrypt); PyJWT and pwdlib (Argon2id) if you prefer.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, FastAPI
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """AUTH_SECRET_KEY, AUTH_ALGORITHM, AUTH_ACCESS_TOKEN_EXPIRE_MINUTES, AUTH_BCRYPT_ROUNDS,
    AUTH_ARGON2_TIME_COST, AUTH_ARGON2_MEMORY_KIB: each from the environment, or its default."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    secret_key: str = (
        "dev-only-secret-never-use-in-production-set-AUTH_SECRET_KEY-to-64-random-bytes"
    )
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(15, ge=1)
    bcrypt_rounds: int = Field(12, ge=4, le=31)  # the cost, if you hash with bcrypt
    argon2_time_cost: int = Field(3, ge=1)  # the costs, if you hash with Argon2id
    argon2_memory_kib: int = Field(65536, ge=64)


@lru_cache
def get_settings() -> Settings:
    """The settings, read from the environment at the first call (never at import)."""
    return Settings()


def hash_password(password: str) -> str:
    """TODO (task 1): a salted bcrypt (or Argon2id) hash of `password`, never the password itself.

    Take the cost from get_settings() when you hash (the tests set AUTH_BCRYPT_ROUNDS=4).
    """
    return password  # placeholder so the app starts


def verify_password(password: str, hashed: str) -> bool:
    """TODO (task 1): True if `password` matches the hash `hashed`, else False."""
    raise NotImplementedError


class User(BaseModel):
    username: str
    full_name: str | None = None
    disabled: bool = False


class UserInDB(User):
    hashed_password: str
    scopes: list[str] = []


users_db: dict[str, UserInDB] = {}

DEMO_USERS = [  # username, full name, password, scopes held, disabled
    ("alice", "Alice Liddell", "wonderland", ["me", "items:read"], False),
    ("bob", "Bob Builder", "canwefixit", ["me"], False),
    ("carol", "Carol Danvers", "higherfurther", ["me", "items:read"], True),
]


def seed_users() -> None:
    """Store the demo users; each password is hashed on its way in."""
    for username, full_name, password, scopes, disabled in DEMO_USERS:
        users_db[username] = UserInDB(
            username=username,
            full_name=full_name,
            hashed_password=hash_password(password),
            scopes=scopes,
            disabled=disabled,
        )


def authenticate_user(username: str, password: str) -> UserInDB | None:
    """TODO (task 2): the user if the password matches, else None.

    TODO (task 7): call verify_password exactly once, even for an unknown username.
    """
    raise NotImplementedError


def create_access_token(username: str, scopes: list[str]) -> str:
    """TODO (task 3): a JWT with `sub`, `exp` and `scope`, signed as get_settings() says."""
    raise NotImplementedError


class Token(BaseModel):
    access_token: str
    token_type: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    seed_users()
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """TODO (task 2): answer a Token, or one and the same 400 for any bad credentials.

    TODO (task 6): grant only the requested scopes that the user holds.
    """
    raise NotImplementedError


# TODO (task 6): declare the scopes "me" and "items:read".
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


async def get_current_user(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scheme)]
) -> UserInDB:
    """TODO (task 4): the user the token names, or 401 with WWW-Authenticate: Bearer error="invalid_token".

    TODO (task 6): 403 insufficient_scope unless the token holds every scope in security_scopes.
    """
    raise NotImplementedError


async def get_current_active_user(
    user: Annotated[UserInDB, Depends(get_current_user)],
) -> UserInDB:
    """TODO (task 5): refuse a disabled user with 403 "Inactive user"."""
    return user


class Item(BaseModel):
    title: str
    owner: str


# TODO (task 6): /users/me needs the scope "me"; /users/me/items needs "me" and "items:read".
@app.get("/users/me")
async def read_me(user: Annotated[UserInDB, Depends(get_current_active_user)]) -> User:
    return user


@app.get("/users/me/items")
async def read_my_items(user: Annotated[UserInDB, Depends(get_current_active_user)]) -> list[Item]:
    return [Item(title="Pocket watch", owner=user.username)]
