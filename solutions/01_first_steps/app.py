# Kata 01 · First steps — reference solution.

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel

app = FastAPI(title="Bookshelf")

# The shelf as stored, in id order: each record carries fields that are not for the public.
BOOKS: dict[int, dict[str, object]] = {
    1: {"id": 1, "title": "Dune", "author": "Frank Herbert", "year": 1965,
        "genre": "fiction", "supplier_price": 4.2},
    2: {"id": 2, "title": "Cosmos", "author": "Carl Sagan", "year": 1980,
        "genre": "science", "supplier_price": 6.0},
    3: {"id": 3, "title": "Neuromancer", "author": "William Gibson", "year": 1984,
        "genre": "fiction", "supplier_price": 3.9},
    4: {"id": 4, "title": "The Selfish Gene", "author": "Richard Dawkins", "year": 1976,
        "genre": "science", "supplier_price": 5.1},
    5: {"id": 5, "title": "SPQR", "author": "Mary Beard", "year": 2015,
        "genre": "history", "supplier_price": 7.3},
    6: {"id": 6, "title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin", "year": 1969,
        "genre": "fiction", "supplier_price": 4.8},
    7: {"id": 7, "title": "A Brief History of Time", "author": "Stephen Hawking", "year": 1988,
        "genre": "science", "supplier_price": 5.6},
    8: {"id": 8, "title": "The Guns of August", "author": "Barbara W. Tuchman", "year": 1962,
        "genre": "history", "supplier_price": 6.4},
    9: {"id": 9, "title": "Foundation", "author": "Isaac Asimov", "year": 1951,
        "genre": "fiction", "supplier_price": 3.5},
    10: {"id": 10, "title": "The Double Helix", "author": "James D. Watson", "year": 1968,
         "genre": "science", "supplier_price": 4.4},
    11: {"id": 11, "title": "Kindred", "author": "Octavia E. Butler", "year": 1979,
         "genre": "fiction", "supplier_price": 4.1},
    12: {"id": 12, "title": "The Silk Roads", "author": "Peter Frankopan", "year": 2015,
         "genre": "history", "supplier_price": 8.2},
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
