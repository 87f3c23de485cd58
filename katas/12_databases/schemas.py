# Kata 12 · Databases — what the API reads and writes: Pydantic schemas, apart from the tables.
# TODO (task 1): declare each schema's fields and rules (README, "What to build"). The output
# schemas read ORM objects' attributes.

from pydantic import BaseModel


class AuthorCreate(BaseModel):
    """TODO (task 1): name, 1–100 characters; email, at most 200, one @ and no whitespace."""


class AuthorOut(BaseModel):
    """TODO (task 1): id and name. Never the email."""


class BookCreate(BaseModel):
    """TODO (task 1): title (1–200 characters), year (1450–2100), isbn (13 digits), author_id."""


class BookOut(BaseModel):
    """TODO (task 1): id, title, year, isbn (None for books catalogued without one), author_id."""


class AuthorWithBooks(AuthorOut):
    """TODO (task 1): an AuthorOut with `books`, a list of BookOut."""


class BookPage(BaseModel):
    """TODO (task 1): items (a list of BookOut), total, limit, offset."""
