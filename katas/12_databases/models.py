# Kata 12 · Databases — the tables, as typed SQLAlchemy models (given, but for task 4's TODOs).

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)  # stored, never shown
    # TODO (task 4): `books`, this author's Book rows, newest first (year, then id, descending).


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True, index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    # TODO (task 4): `author`, the other side of Author.books.
