# Kata 12 · Databases — the tables, as typed SQLAlchemy models; the relationship is task 4.

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)  # stored, never shown
    # One author, many books, newest first (the order of every list of books).
    books: Mapped[list["Book"]] = relationship(
        back_populates="author", order_by=lambda: (Book.year.desc(), Book.id.desc())
    )


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True, index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    author: Mapped[Author] = relationship(back_populates="books")
