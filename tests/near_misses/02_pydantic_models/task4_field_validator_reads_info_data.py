"""The date check is a field validator on check_out that reads info.data["check_in"], which crashes
when check_in itself failed.
"""

import hashlib
import os
from datetime import date
from itertools import count
from typing import Annotated

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

app = FastAPI(title="Pydantic models kata")

# ``^`` and ``$`` matter: Pydantic matches a pattern anywhere in the string unless anchored.
Sku = Annotated[str, Field(pattern=r"^[A-Z]{3}-[0-9]{4}$")]


# --- Task 1 and 2: constraints, parsing and coercion ---------------------------------------
class ProductIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    sku: Sku
    price: Annotated[float, Field(gt=0, le=10_000)]
    stock: Annotated[int, Field(ge=0)] = 0


class ProductOut(ProductIn):
    id: int


_product_ids = count(1)


@app.post("/products", status_code=status.HTTP_201_CREATED)
def create_product(product: ProductIn) -> ProductOut:
    # `product` is already parsed: "19.90" arrived as a string and is a float here.
    return ProductOut(id=next(_product_ids), **product.model_dump())


# --- Task 3: nested models and lists of models ---------------------------------------------
class Address(BaseModel):
    street: Annotated[str, Field(min_length=1)]
    city: Annotated[str, Field(min_length=1)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Customer(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    address: Address


class OrderLine(BaseModel):
    sku: Sku
    quantity: Annotated[int, Field(ge=1)]
    unit_price: Annotated[float, Field(gt=0)]


class OrderIn(BaseModel):
    customer: Customer
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=50)]


class OrderOut(OrderIn):
    id: int
    total: float


_order_ids = count(1)


@app.post("/orders", status_code=status.HTTP_201_CREATED)
def create_order(order: OrderIn) -> OrderOut:
    total = round(sum(line.quantity * line.unit_price for line in order.lines), 2)
    return OrderOut(id=next(_order_ids), total=total, **order.model_dump())


# --- Task 4: a validator across fields -----------------------------------------------------
class BookingIn(BaseModel):
    room: Annotated[str, Field(min_length=1, max_length=20)]
    guests: Annotated[int, Field(ge=1, le=4)]
    check_in: date
    check_out: date

    @field_validator("check_out")
    @classmethod
    def check_out_after_check_in(cls, check_out: date, info: ValidationInfo) -> date:
        if check_out <= info.data["check_in"]:
            raise ValueError("check_out must be after check_in")
        return check_out


class BookingOut(BookingIn):
    id: int
    nights: int


_booking_ids = count(1)


@app.post("/bookings", status_code=status.HTTP_201_CREATED)
def create_booking(booking: BookingIn) -> BookingOut:
    nights = (booking.check_out - booking.check_in).days
    return BookingOut(id=next(_booking_ids), nights=nights, **booking.model_dump())


# --- Task 5 and 6: a response model that keeps secrets, unknown fields rejected --------------
class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(pattern=r"^[a-z0-9_]{3,20}$")]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    full_name: Annotated[str | None, Field(max_length=80)] = None


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str | None = None


class UserInDB(UserOut):
    password_hash: str


_user_ids = count(1)
users: dict[int, UserInDB] = {}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return f"{salt.hex()}${digest.hex()}"


# The handlers return UserInDB; the declared return type UserOut is the response model, so
# FastAPI sends (and documents) only UserOut's fields. The hash never leaves the server.
@app.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(user: UserCreate) -> UserOut:
    stored = UserInDB(
        id=next(_user_ids),
        username=user.username,
        full_name=user.full_name,
        password_hash=hash_password(user.password),
    )
    users[stored.id] = stored
    return stored


@app.get("/users/{user_id}")
def read_user(user_id: int) -> UserOut:
    if user_id not in users:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="User not found")
    return users[user_id]
