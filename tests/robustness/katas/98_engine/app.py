"""The engine kata's stub: nothing is built yet."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()

ITEMS = {1: "pen", 2: "ink", 3: "nib"}


class Item(BaseModel):
    pass  # TODO (task 3)


# TODO (task 1): GET /items/{item_id}
# TODO (task 2): GET /items
