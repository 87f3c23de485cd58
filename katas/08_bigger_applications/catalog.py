"""The data layer (given, finished): a stand-in for a database connection pool."""

import os

from fastapi import Request
from pydantic import BaseModel


class Book(BaseModel):
    id: int
    title: str
    author: str


SEED = [
    Book(id=1, title="The Left Hand of Darkness", author="Ursula K. Le Guin"),
    Book(id=2, title="Kindred", author="Octavia E. Butler"),
    Book(id=3, title="Solaris", author="Stanisław Lem"),
]


class Catalog:
    """Open it once at startup, close it at shutdown. Reading a closed catalog is an error.

    Like a real database driver, it reads one environment variable of its own: when CATALOG_LOG
    names a file, every open() and close() appends a line ("open" or "close") to it. That is how
    the tests watch the catalog.
    """

    def __init__(self) -> None:
        self._books: dict[int, Book] = {}
        self.is_open = False

    def open(self) -> None:
        self._books = {book.id: book for book in SEED}
        self.is_open = True
        self._log("open")

    def close(self) -> None:
        self._books = {}
        self.is_open = False
        self._log("close")

    def list(self) -> list[Book]:
        self._ensure_open()
        return list(self._books.values())

    def get(self, book_id: int) -> Book | None:
        self._ensure_open()
        return self._books.get(book_id)

    def _ensure_open(self) -> None:
        if not self.is_open:
            raise RuntimeError("the catalog is closed: was it opened in the lifespan?")

    def _log(self, event: str) -> None:
        path = os.environ.get("CATALOG_LOG")
        if path:
            with open(path, "a", encoding="utf-8") as log:
                log.write(event + "\n")


def get_catalog(request: Request) -> Catalog:
    """The catalog from the lifespan state: the lifespan yields {"catalog": ...}."""
    return request.state.catalog
