# Kata 07 — errors and middleware. Fill in every `TODO (task N)` below; README.md has the contract.
# The routes at the bottom are finished: you change how errors and requests flow around them.
# Run `nox -s errors_and_middleware` to grade.

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

ALLOWED_ORIGIN = "https://shop.example.com"
ADMIN_API_KEY = "letmein"

CallNext = Callable[[Request], Awaitable[Response]]


class Item(BaseModel):
    name: str
    stock: int


ITEMS: dict[int, Item] = {
    1: Item(name="hammer", stock=3),
    2: Item(name="nails", stock=0),
}


class Note(BaseModel):
    text: str = Field(max_length=100)


class Reservation(BaseModel):
    quantity: int = Field(gt=0)
    note: Note | None = None


class ReservationOut(BaseModel):
    item_id: int
    reserved: int
    remaining: int


def get_item_or_404(item_id: int) -> Item:
    """TODO (task 1): an unknown id is a 404 with detail "Item <id> not found"
    and the response header `X-Error-Code: ITEM_NOT_FOUND` (not a KeyError → 500)."""
    return ITEMS[item_id]


class OutOfStockError(Exception):
    """TODO (task 2): a plain Exception (not HTTPException) that keeps
    `item_id`, `requested` and `available` as attributes."""


def reserve_stock(item_id: int, quantity: int) -> int:
    """TODO (task 2): take `quantity` from ITEMS[item_id].stock and return what is left
    (taking all of it is fine); raise OutOfStockError, leaving the stock as it was, when
    `quantity` is more than the stock."""
    raise NotImplementedError


app = FastAPI(title="Stock")


# TODO (task 2): register this handler for OutOfStockError.
async def out_of_stock_handler(request: Request, exc: OutOfStockError) -> JSONResponse:
    """Answer 409 with {"error": "out_of_stock", "item_id", "requested", "available"}."""
    raise NotImplementedError


# TODO (task 3): register this handler for RequestValidationError.
async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Answer 422 with {"error": "validation_failed", "fields": [{"field", "location", "message"}]},
    one entry per error in exc.errors(), in that order."""
    raise NotImplementedError


# TODO (tasks 4–6): register the middleware below and CORS, in an order where the request passes
# CORS → request_context → admin_key_guard → route. Which one must you add first?


async def admin_key_guard(request: Request, call_next: CallNext) -> Response:
    """TODO (task 6): `/admin` or a path under `/admin/`, with a missing or wrong `X-API-Key`
    (anything but ADMIN_API_KEY), gets 401
    {"error": "invalid_api_key", "request_id": <request.state.request_id>}; all else passes."""
    return await call_next(request)


async def request_context(request: Request, call_next: CallNext) -> Response:
    """TODO (task 4): reuse the incoming X-Request-ID (a new uuid4 when it is missing or empty),
    store it on request.state.request_id, and add X-Request-ID and X-Process-Time (seconds with
    six decimals, e.g. 0.000412) to the response."""
    return await call_next(request)


# TODO (task 5): CORS for ALLOWED_ORIGIN only: methods GET and POST; request headers Content-Type,
# X-Request-ID and X-API-Key; expose X-Request-ID and X-Process-Time to browser code.


# --- routes (given, finished) -----------------------------------------------------------------


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> Item:
    return get_item_or_404(item_id)


@app.post("/items/{item_id}/reserve")
async def reserve_item(item_id: int, reservation: Reservation) -> ReservationOut:
    get_item_or_404(item_id)
    remaining = reserve_stock(item_id, reservation.quantity)
    return ReservationOut(item_id=item_id, reserved=reservation.quantity, remaining=remaining)


@app.get("/health")
async def health(request: Request) -> dict[str, str | None]:
    return {"status": "ok", "request_id": getattr(request.state, "request_id", None)}


@app.get("/admin/stats")
async def admin_stats() -> dict[str, int]:
    return {"items": len(ITEMS), "units_in_stock": sum(item.stock for item in ITEMS.values())}
