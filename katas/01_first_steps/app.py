# Kata 01 · First steps: a read-only books API whose type hints drive validation, output and docs.
# Fill in each TODO (task N), then grade with `nox -s first_steps`. The README has the contract.

from fastapi import FastAPI
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
    """TODO (task 3): the public shape of a book — id, title, author and year, nothing else."""


# TODO (task 1): serve this as GET /books/{book_id}, with a typed path parameter of 1 or more.
# TODO (task 4): tag it "books" and give it the summary "Get one book".
def read_book(book_id):
    """Return the book with this id as a BookOut, or answer 404 {"detail": "Book not found"}."""
    raise NotImplementedError


# TODO (task 2): serve this as GET /books, with typed query parameters `limit` and `genre`.
# TODO (task 4): tag it "books" and give it the summary "List books".
def list_books(limit, genre):
    """Keep only the books of `genre` when it is given, then return the first `limit` of them
    (1–50, default 10) in id order."""
    raise NotImplementedError
