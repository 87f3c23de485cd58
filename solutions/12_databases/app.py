# Kata 12 · Databases — a library catalogue on SQLAlchemy: authors, their books, pages of books.

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from models import Author, Book
from schemas import AuthorCreate, AuthorOut, AuthorWithBooks, BookCreate, BookOut, BookPage
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from db import SessionDep, lifespan

app = FastAPI(title="Library", lifespan=lifespan)

# The routes return ORM objects; response_model turns each into its schema, reading attributes.


@app.post("/authors", status_code=201, response_model=AuthorOut)
def create_author(author: AuthorCreate, session: SessionDep) -> Author:
    row = Author(**author.model_dump())
    session.add(row)
    try:
        session.flush()  # sends the INSERT now: the id is known, and a taken email fails here
    except IntegrityError:
        # The UNIQUE constraint decides, not a SELECT first: no race between check and insert.
        # Raising is enough: the session dependency rolls the failed transaction back.
        raise HTTPException(409, "Email already registered") from None
    return row


@app.get("/authors/{author_id}", response_model=AuthorOut)
def read_author(author_id: int, session: SessionDep) -> Author:
    author = session.get(Author, author_id)
    if author is None:
        raise HTTPException(404, "Author not found")
    return author


@app.get("/authors", response_model=list[AuthorWithBooks])
def list_authors(session: SessionDep) -> list[Author]:
    # Two queries whatever the number of authors: the authors, then all of their books at once.
    # Without selectinload, reading each author's .books would send one more query per author.
    query = select(Author).options(selectinload(Author.books)).order_by(Author.name, Author.id)
    return list(session.scalars(query))


def add_book(session: Session, book: BookCreate) -> Book:
    if session.get(Author, book.author_id) is None:
        raise HTTPException(404, "Author not found")
    row = Book(**book.model_dump())
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(409, f"ISBN {book.isbn} is already in the catalogue") from None
    return row


@app.post("/books", status_code=201, response_model=BookOut)
def create_book(book: BookCreate, session: SessionDep) -> Book:
    return add_book(session, book)


@app.post("/books/import", status_code=201, response_model=list[BookOut])
def import_books(books: list[BookCreate], session: SessionDep) -> list[Book]:
    # One request, one session, one transaction: if any book fails, none of them is saved.
    return [add_book(session, book) for book in books]


@app.get("/books")
def list_books(
    session: SessionDep,
    author_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BookPage:
    books = select(Book)
    if author_id is not None:
        books = books.where(Book.author_id == author_id)
    total = session.scalar(select(func.count()).select_from(books.subquery())) or 0
    # Newest first. The id breaks ties between books of one year, so the order is total and a
    # book can neither appear on two pages nor fall between them.
    page = books.order_by(Book.year.desc(), Book.id.desc()).limit(limit).offset(offset)
    items = [BookOut.model_validate(row) for row in session.scalars(page)]
    return BookPage(items=items, total=total, limit=limit, offset=offset)
