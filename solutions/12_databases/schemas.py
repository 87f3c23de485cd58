# Kata 12 · Databases — what the API reads and writes: Pydantic schemas, apart from the tables.

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Isbn = Annotated[str, Field(pattern=r"^[0-9]{13}$")]


class AuthorCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


class AuthorOut(BaseModel):
    # Reads a models.Author's attributes; it has no email field, so the email never leaves.
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class BookCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=1450, le=2100)
    isbn: Isbn
    author_id: int


class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    year: int
    isbn: str | None  # books catalogued before ISBNs were recorded have none
    author_id: int


class AuthorWithBooks(AuthorOut):
    books: list[BookOut]


class BookPage(BaseModel):
    items: list[BookOut]
    total: int
    limit: int
    offset: int
