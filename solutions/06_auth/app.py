"""Reference solution for kata 06 · Authentication and authorization (python-jose and passlib).

The same kata with the libraries FastAPI's tutorial uses today, PyJWT and pwdlib (Argon2id), is
in alternatives/pyjwt_pwdlib/app.py; both pass the same tests.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from jose import JWTError, jwt
from passlib.hash import bcrypt
from pydantic import BaseModel, Field, ValidationError
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


# --- Task 1: passwords ----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    # The cost comes from the settings at the moment of the call, not from an import-time hasher.
    return bcrypt.using(rounds=get_settings().bcrypt_rounds).hash(password)


def verify_password(password: str, hashed: str) -> bool:
    # The salt and the cost are read back from `hashed`. bcrypt reads the first 72 bytes only.
    return bcrypt.verify(password, hashed)


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
def dummy_hash() -> str:
    """A hash no password matches, with the stored hashes' cost. The lifespan makes it once."""
    return hash_password("no user has this password")


def authenticate_user(username: str, password: str) -> UserInDB | None:
    user = users_db.get(username)  # exact match: "Alice" is not "alice"
    if user is None:
        # Pay for one verification anyway: an unknown name must not answer faster.
        verify_password(password, dummy_hash())
        return None
    if not verify_password(password, user.hashed_password):
        return None
    return user


def create_access_token(username: str, scopes: list[str]) -> str:
    settings = get_settings()
    expire = datetime.now(timezone.utc) + timedelta(minutes=settings.access_token_expire_minutes)
    # `scope`, one space-separated string: the claim RFC 8693 (§4.2) and RFC 9068 define.
    claims = {"sub": username, "exp": expire, "scope": " ".join(scopes)}
    return jwt.encode(claims, settings.secret_key, algorithm=settings.algorithm)


class Token(BaseModel):
    access_token: str
    token_type: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    seed_users()
    dummy_hash()  # made now, with the stored hashes' cost, not during a login
    yield


app = FastAPI(lifespan=lifespan)


# A plain `def`: hashing is slow on purpose, so FastAPI runs this in its thread pool.
@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = authenticate_user(form.username, form.password)  # the password exactly as typed
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
    scope: str = ""


def invalid_token() -> HTTPException:
    # RFC 6750 §3.1: credentials were sent but are no good, so the challenge names the error.
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Could not validate credentials",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def get_current_user(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scheme)]
) -> UserInDB:
    settings = get_settings()
    try:
        # One algorithm, ours: no `alg: none`, no algorithm the token picks for itself.
        payload = jwt.decode(token, settings.secret_key, algorithms=[settings.algorithm])
        claims = TokenClaims.model_validate(payload)  # sub and exp are required
    except (JWTError, ValidationError):
        raise invalid_token() from None
    user = users_db.get(claims.sub)
    if user is None:
        raise invalid_token()
    granted = claims.scope.split()
    if not all(scope in granted for scope in security_scopes.scopes):
        # RFC 6750 §3.1: a good token without the scope is 403 insufficient_scope.
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
    # After the scope check (in get_current_user), on every request: a token issued before the
    # account was disabled stops working too.
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
    return user  # the return type filters the response: no hash, no scopes


@app.get("/users/me/items")
async def read_my_items(
    user: Annotated[UserInDB, Security(get_current_active_user, scopes=["me", "items:read"])],
) -> list[Item]:
    return [Item(title="Pocket watch", owner=user.username)]
