"""Add books.isbn, unique; books catalogued before it have none.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa  # noqa: F401 (what upgrade and downgrade are written with)
from alembic import op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """TODO (task 7): add books.isbn (a string of 13, nullable) and its unique index ix_books_isbn,
    keeping the books already in the table."""


def downgrade() -> None:
    """TODO (task 7): remove the index and the column, keeping the books."""
