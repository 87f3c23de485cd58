"""Errors and middleware: a small stock service (reference solution)."""

import secrets
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
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


# --- task 1: an HTTPException with headers -------------------------------------------------


def get_item_or_404(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"Item {item_id} not found",
            headers={"X-Error-Code": "ITEM_NOT_FOUND"},
        )
    return ITEMS[item_id]


# --- task 2: a domain error that knows nothing about HTTP -----------------------------------


class OutOfStockError(Exception):
    def __init__(self, item_id: int, requested: int, available: int) -> None:
        super().__init__(f"item {item_id}: {requested} requested, {available} available")
        self.item_id = item_id
        self.requested = requested
        self.available = available


def reserve_stock(item_id: int, quantity: int) -> int:
    item = ITEMS[item_id]
    if quantity > item.stock:
        raise OutOfStockError(item_id, requested=quantity, available=item.stock)
    item.stock -= quantity
    return item.stock


app = FastAPI(title="Stock")


@app.exception_handler(OutOfStockError)
async def out_of_stock_handler(request: Request, exc: OutOfStockError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_409_CONFLICT,
        content={
            "error": "out_of_stock",
            "item_id": exc.item_id,
            "requested": exc.requested,
            "available": exc.available,
        },
    )


# --- task 3: our own shape for validation errors, still 422 ---------------------------------


@app.exception_handler(RequestValidationError)
async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {
            "field": ".".join(str(part) for part in error["loc"][1:]),
            "location": str(error["loc"][0]),
            "message": error["msg"],
        }
        for error in exc.errors()
    ]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"error": "validation_failed", "fields": fields},
    )


# --- tasks 4-6: middleware --------------------------------------------------------------------
# Each middleware added wraps the ones added before it, so the LAST one added is the OUTERMOST:
# it sees the request first and the response last. Here: CORS → request context → admin guard.


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


@app.middleware("http")
async def admin_key_guard(request: Request, call_next: CallNext) -> Response:
    key = request.headers.get("X-API-Key", "")
    if is_admin_path(request.url.path) and not secrets.compare_digest(
        key.encode(), ADMIN_API_KEY.encode()
    ):
        # request_id exists because request_context (outside this one) has already run.
        return JSONResponse(
            status_code=status.HTTP_401_UNAUTHORIZED,
            content={"error": "invalid_api_key", "request_id": request.state.request_id},
        )
    return await call_next(request)


@app.middleware("http")
async def request_context(request: Request, call_next: CallNext) -> Response:
    request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    request.state.request_id = request_id
    start = time.perf_counter()
    response = await call_next(request)
    response.headers["X-Request-ID"] = request_id
    response.headers["X-Process-Time"] = f"{time.perf_counter() - start:.6f}"
    return response


app.add_middleware(
    CORSMiddleware,
    allow_origins=[ALLOWED_ORIGIN],
    allow_methods=["GET", "POST"],
    allow_headers=["Content-Type", "X-Request-ID", "X-API-Key"],
    # Without this, browser code cannot read our custom response headers.
    expose_headers=["X-Request-ID", "X-Process-Time"],
)


# --- routes (given) -------------------------------------------------------------------------


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
