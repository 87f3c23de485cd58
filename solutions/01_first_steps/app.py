# Kata 01 · First steps — reference solution.

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel

app = FastAPI(title="Bookshelf")

# The shelf as stored: each record carries fields that are not for the public.
BOOKS: dict[int, dict[str, object]] = {
    1: {"id": 1, "title": "Dune", "author": "Frank Herbert", "year": 1965,
        "genre": "fiction", "supplier_price": 4.2},
    2: {"id": 2, "title": "Cosmos", "author": "Carl Sagan", "year": 1980,
        "genre": "science", "supplier_price": 6.0},
    3: {"id": 3, "title": "Neuromancer", "author": "William Gibson", "year": 1984,
        "genre": "fiction", "supplier_price": 3.9},
    4: {"id": 4, "title": "The Selfish Gene", "author": "Richard Dawkins", "year": 1976,
        "genre": "science", "supplier_price": 5.1},
}  # fmt: skip


class BookOut(BaseModel):
    id: int
    title: str
    author: str
    year: int


@app.get("/books/{book_id}", tags=["books"], summary="Get one book")
def read_book(book_id: Annotated[int, Path(ge=1)]) -> BookOut:
    book = BOOKS.get(book_id)
    if book is None:
        raise HTTPException(status_code=404, detail="Book not found")
    return BookOut.model_validate(book)


@app.get("/books", tags=["books"], summary="List books")
def list_books(
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    genre: str | None = None,
) -> list[BookOut]:
    books = [b for b in BOOKS.values() if genre is None or b["genre"] == genre]
    return [BookOut.model_validate(book) for book in books[:limit]]
