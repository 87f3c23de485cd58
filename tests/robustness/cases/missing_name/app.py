"""The engine kata's answer."""

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()

ITEMS = {1: "pen", 2: "ink", 3: "nib"}


class Thing(BaseModel):
    id: int
    name: str


@app.get("/items/{item_id}")
def read_item(item_id: int) -> Thing:
    name = ITEMS.get(item_id)
    if name is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return Thing(id=item_id, name=name)


@app.get("/items")
def list_items() -> list[Thing]:
    return [Thing(id=key, name=name) for key, name in sorted(ITEMS.items())]
