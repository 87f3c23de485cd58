"""Checks only the first required scope, so a token holding just that one passes everywhere."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from jose import JOSEError, jwt
from passlib.hash import bcrypt
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from AUTH_SECRET_KEY, AUTH_ACCESS_TOKEN_EXPIRE_MINUTES, AUTH_BCRYPT_ROUNDS."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    secret_key: str = "dev-only-secret-set-AUTH_SECRET_KEY-in-production"
    access_token_expire_minutes: int = 15
    bcrypt_rounds: int = 12


settings = Settings()
ALGORITHM = "HS256"  # the one algorithm we sign with, and the only one we accept

# --- Task 1: passwords ----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    # The cost is read on every call, so it follows settings (the tests lower it to 4).
    return bcrypt.using(rounds=settings.bcrypt_rounds).hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return bcrypt.verify(password, hashed)  # the salt and the cost are read from `hashed`


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


# --- Tasks 2, 3, 7: logging in --------------------------------------------------------------------


@cache
def dummy_hash(rounds: int) -> str:
    """A hash no password matches, with the same cost as the stored ones (made once per cost)."""
    return bcrypt.using(rounds=rounds).hash("no user has this password")


def authenticate_user(username: str, password: str) -> UserInDB | None:
    user = users_db.get(username)
    if user is None:
        # Pay for one verification anyway: an unknown name must not answer faster.
        verify_password(password, dummy_hash(settings.bcrypt_rounds))
        return None
    if not verify_password(password, user.hashed_password):
        return None
    return user


def create_access_token(username: str, scopes: list[str]) -> str:
    expire = datetime.now(timezone.utc) + timedelta(minutes=settings.access_token_expire_minutes)
    claims = {"sub": username, "exp": expire, "scopes": scopes}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


class Token(BaseModel):
    access_token: str
    token_type: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    seed_users()
    dummy_hash(settings.bcrypt_rounds)  # made now, not during the first login
    yield


app = FastAPI(lifespan=lifespan)


# A plain `def`: bcrypt is slow on purpose, so FastAPI runs this in its thread pool.
@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = authenticate_user(form.username, form.password)
    if user is None:
        # One answer for "no such user" and "wrong password": nothing to enumerate.
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect username or password")
    granted = [scope for scope in form.scopes if scope in user.scopes]
    return Token(access_token=create_access_token(user.username, granted), token_type="bearer")


# --- Tasks 4, 5, 6: every request -----------------------------------------------------------------

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="token",
    scopes={"me": "Read your own profile.", "items:read": "Read your items."},
)


class TokenClaims(BaseModel):
    sub: str
    exp: int
    scopes: list[str] = []


async def get_current_user(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scheme)]
) -> UserInDB:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Could not validate credentials",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    try:
        # A fixed algorithm list: no `alg: none`, no algorithm the token picks for itself.
        payload = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM])
        claims = TokenClaims.model_validate(payload)
    except (JOSEError, ValidationError):  # JOSEError: the base of JWTError *and* JWKError
        raise unauthorized from None
    user = users_db.get(claims.sub)
    if user is None:
        raise unauthorized
    if security_scopes.scopes and security_scopes.scopes[0] not in claims.scopes:
        # RFC 6750 §3.1: a valid token that lacks a scope is 403 insufficient_scope.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Not enough permissions",
            headers={
                "WWW-Authenticate": (
                    f'Bearer error="insufficient_scope", scope="{security_scopes.scope_str}"'
                )
            },
        )
    return user


async def get_current_active_user(user: Annotated[UserInDB, Depends(get_current_user)]) -> UserInDB:
    if user.disabled:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Inactive user")
    return user


class Item(BaseModel):
    title: str
    owner: str


@app.get("/users/me")
async def read_me(
    user: Annotated[UserInDB, Security(get_current_active_user, scopes=["me"])],
) -> User:
    return user


@app.get("/users/me/items")
async def read_my_items(
    user: Annotated[UserInDB, Security(get_current_active_user, scopes=["me", "items:read"])],
) -> list[Item]:
    return [Item(title="Pocket watch", owner=user.username)]
