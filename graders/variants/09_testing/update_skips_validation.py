# Buggy variant `update_skips_validation` of katas/09_testing/app.py, one bug: PATCH accepts a
# negative quantity that POST would reject.
"""Stock: a small items API.

POST   /items             create an item (needs X-API-Key), 201, mails the stock team
GET    /items             a page: ?limit=1..100 (10) &offset>=0 (0) -> {"items": [...], "total": n}
GET    /items/{item_id}   one item, 404 if there is none
PATCH  /items/{item_id}   change price and/or quantity (needs X-API-Key), 404 if missing
DELETE /items/{item_id}   remove it (needs X-API-Key), 204, 404 if missing
"""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException, Query, status
from pydantic import BaseModel, Field

API_KEY = "let-me-in"
STOCK_TEAM = "stock@example.com"
SENT_FOR_REAL: list[tuple[str, str]] = []


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    price: float = Field(gt=0)
    quantity: int = Field(default=0, ge=0)


class ItemPatch(BaseModel):
    price: float | None = Field(default=None, gt=0)
    quantity: int | None = None


class Item(ItemIn):
    id: int
    created_at: datetime


class Page(BaseModel):
    items: list[Item]
    total: int


class ItemStore:
    """In-memory storage: the real service would hold a database session here."""

    def __init__(self) -> None:
        self.items: dict[int, Item] = {}
        self.next_id = 1

    def add(self, data: ItemIn, created_at: datetime) -> Item:
        item = Item(id=self.next_id, created_at=created_at, **data.model_dump())
        self.items[item.id] = item
        self.next_id += 1
        return item


class SmtpMailer:
    """The production mailer. There is no mail server here, so it keeps what it would have
    sent in SENT_FOR_REAL: anything that lands there went to a real inbox."""

    def send(self, to: str, subject: str) -> None:
        SENT_FOR_REAL.append((to, subject))


_store = ItemStore()


def get_store() -> ItemStore:
    return _store


def get_mailer() -> SmtpMailer:
    return SmtpMailer()


def get_now() -> datetime:
    return datetime.now(timezone.utc)


def require_api_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != API_KEY:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing or wrong API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )


Store = Annotated[ItemStore, Depends(get_store)]
Mailer = Annotated[SmtpMailer, Depends(get_mailer)]
Now = Annotated[datetime, Depends(get_now)]
needs_key = [Depends(require_api_key)]

app = FastAPI(title="Stock")


def find(store: ItemStore, item_id: int) -> Item:
    if item_id not in store.items:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Item {item_id} not found")
    return store.items[item_id]


@app.post("/items", status_code=status.HTTP_201_CREATED, dependencies=needs_key)
def create_item(
    data: ItemIn, store: Store, mailer: Mailer, now: Now, background: BackgroundTasks
) -> Item:
    item = store.add(data, created_at=now)
    background.add_task(mailer.send, STOCK_TEAM, f"New item: {item.name}")
    return item


@app.get("/items")
def list_items(
    store: Store,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    items = list(store.items.values())  # a dict keeps insertion order: oldest first
    return Page(items=items[offset : offset + limit], total=len(items))


@app.get("/items/{item_id}")
def read_item(item_id: int, store: Store) -> Item:
    return find(store, item_id)


@app.patch("/items/{item_id}", dependencies=needs_key)
def update_item(item_id: int, changes: ItemPatch, store: Store) -> Item:
    item = find(store, item_id).model_copy(update=changes.model_dump(exclude_none=True))
    store.items[item_id] = item
    return item


@app.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=needs_key)
def delete_item(item_id: int, store: Store) -> None:
    find(store, item_id)
    del store.items[item_id]
