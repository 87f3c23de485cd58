# Kata 02 · Pydantic models: declare models so FastAPI validates, parses and documents the data.
# Fill in every `# TODO (task N)`; the README has the HTTP contract.
# Run `nox -s pydantic_models` to grade.

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="Pydantic models kata")


# TODO (task 1): declare the fields with their limits.
# TODO (task 2): accept "19.90" and "7" for the numbers, and refuse what cannot convert.
class ProductIn(BaseModel):
    """A new product: `name` 1–40 characters, `sku` exactly like "LMP-0042" (3 capitals A-Z, a
    dash, 4 digits 0-9), `price` a number > 0 and ≤ 10000, `stock` an integer ≥ 0, default 0."""


class ProductOut(ProductIn):
    """What POST /products returns: the product's fields plus an integer `id`."""


# TODO (task 1): answer 201 with the parsed product.
@app.post("/products")
def create_product(product: ProductIn):
    """Answer 201 Created with the parsed product and a new `id`."""
    raise NotImplementedError("TODO (task 1): create the product")


# TODO (task 3): declare the nested models.
class Address(BaseModel):
    """`street` and `city` at least 1 character each, `country` exactly two capitals like "GB"."""


class Customer(BaseModel):
    """`name` 1–60 characters and an `address` (an Address)."""


class OrderLine(BaseModel):
    """`sku` like a product's, `quantity` an integer ≥ 1, `unit_price` a number > 0."""


class OrderIn(BaseModel):
    """A `customer` (a Customer) and `lines`: a list of 1 to 50 OrderLine."""


# TODO (task 3): answer 201 with the order and its total.
@app.post("/orders")
def create_order(order: OrderIn):
    """Answer 201 Created with the order, a new `id` and `total` = Σ quantity × unit_price,
    rounded to 2 decimals."""
    raise NotImplementedError("TODO (task 3): create the order")


# TODO (task 4): declare the fields and a validator across the two dates.
class BookingIn(BaseModel):
    """`room` 1–20 characters, `guests` an integer from 1 to 4, `check_in` and `check_out` dates.
    `check_out` must be after `check_in`, else a 422 whose message contains
    "check_out must be after check_in"."""


# TODO (task 4): answer 201 with the booking and its nights.
@app.post("/bookings")
def create_booking(booking: BookingIn):
    """Answer 201 Created with the booking, a new `id` and `nights` between the two dates."""
    raise NotImplementedError("TODO (task 4): create the booking")


# TODO (task 5): declare the fields.
# TODO (task 6): make any field not declared here a 422.
class UserCreate(BaseModel):
    """`username` 3–20 of a-z, 0-9 and _, `password` 8–128 characters, `full_name` optional
    (None allowed, ≤ 80 characters)."""


# TODO (task 5): declare what a client may see, and store the hash in a model of its own.
class UserOut(BaseModel):
    """What a client may see of a user: `id`, `username`, `full_name`. Nothing else."""


# TODO (task 5): what the server keeps of a user: UserOut's fields plus `password_hash`.
class UserInDB(UserOut):
    """A stored user. It never leaves the server."""


users: dict[int, UserInDB] = {}  # the stored users, by id; never the plain password


# TODO (task 5): answer 201 with the public fields only.
@app.post("/users")
def create_user(user: UserCreate):
    """Store the user with a hash of the password, never the password itself. Answer 201
    Created with `id`, `username`, `full_name` only — declare that as the response model."""
    raise NotImplementedError("TODO (task 5): create the user")


# TODO (task 5): answer with the public fields only.
@app.get("/users/{user_id}")
def read_user(user_id: int):
    """The stored user with the same public fields as POST /users, or 404
    {"detail": "User not found"} if there is none."""
    raise NotImplementedError("TODO (task 5): read the user")
