# Kata 01 · First steps: a read-only books API whose type hints drive validation, output and docs.
# Fill in each TODO (task N), then grade with `nox -s first_steps`. The README has the contract.

from fastapi import FastAPI
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
    """TODO (task 3): the public shape of a book — id, title, author and year, nothing else."""


# TODO (task 1): serve this as GET /books/{book_id}, with a typed path parameter.
# TODO (task 4): tag it "books" and give it the summary "Get one book".
def read_book(book_id):
    """Return the book with this id as a BookOut, or answer 404 {"detail": "Book not found"}."""
    raise NotImplementedError


# TODO (task 2): serve this as GET /books, with typed query parameters `limit` and `genre`.
# TODO (task 4): tag it "books" and give it the summary "List books".
def list_books(limit, genre):
    """Return up to `limit` books (1–50, default 10), only those of `genre` when it is given."""
    raise NotImplementedError
