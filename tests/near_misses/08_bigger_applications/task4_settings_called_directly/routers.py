"""require_api_key calls get_settings() instead of depending on it: overrides miss it."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status

from catalog import Book, Catalog, get_catalog
from settings import Settings, get_settings

# RFC 9745: the date (as @unix-seconds) from which v1 is deprecated, here 2026-01-01.
V1_DEPRECATED_SINCE = "@1767225600"


def require_api_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    settings: Settings = get_settings()
    if x_api_key is None or not secrets.compare_digest(
        x_api_key.encode(), settings.api_key.encode()
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Invalid or missing API key")


def mark_deprecated(response: Response) -> None:
    response.headers["Deprecation"] = V1_DEPRECATED_SINCE


router = APIRouter(prefix="/books", tags=["books"], dependencies=[Depends(require_api_key)])

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
