# Kata 08 — tasks 2 and 3 live here: the books router that app.py includes once per version.
# Run `nox -s bigger_applications` to grade.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status

from catalog import Book, Catalog, get_catalog
from settings import Settings, get_settings

# RFC 9745: the date (as @unix-seconds) from which v1 is deprecated, here 2026-01-01.
V1_DEPRECATED_SINCE = "@1767225600"


def require_api_key(settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """TODO (task 2): read the X-API-Key request header (declare it, optional, so the docs show
    it) and raise 401 {"detail": "Invalid or missing API key"} unless it equals settings.api_key."""


def mark_deprecated(response: Response) -> None:
    """TODO (task 3): set the `Deprecation: V1_DEPRECATED_SINCE` header on the response."""


# TODO (task 2): prefix "/books", tag "books", and require_api_key for every route in it.
router = APIRouter()

CatalogDep = Annotated[Catalog, Depends(get_catalog)]


@router.get("")
def list_books(catalog: CatalogDep) -> list[Book]:
    return catalog.list()


@router.get("/{book_id}")
def read_book(book_id: int, catalog: CatalogDep) -> Book:
    book = catalog.get(book_id)
    if book is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Book not found")
    return book
