# Kata 06 · Authentication and authorization: hash passwords, hand out JWTs at POST /token,
# check the token on every request and let OAuth2 scopes limit what it may do.
# Fill in each TODO (the README says what each task wants); run `nox -s auth` to grade.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from AUTH_SECRET_KEY, AUTH_ACCESS_TOKEN_EXPIRE_MINUTES, AUTH_BCRYPT_ROUNDS."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    secret_key: str = "dev-only-secret-set-AUTH_SECRET_KEY-in-production"
    access_token_expire_minutes: int = 15
    bcrypt_rounds: int = 12


settings = Settings()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    """TODO (task 1): a salted bcrypt hash of `password`, never the password itself.

    Read the cost from settings.bcrypt_rounds on every call (the tests lower it to 4).
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
    """TODO (task 3): a JWT with `sub`, `exp` and `scopes`, signed with settings.secret_key."""
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
    """TODO (task 4): the user the token names, or 401 with WWW-Authenticate: Bearer.

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
