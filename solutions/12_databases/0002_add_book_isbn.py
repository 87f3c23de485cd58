"""Add books.isbn, unique; books catalogued before it have none.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: the books already in the table have no ISBN, and NOT NULL would reject them.
    op.add_column("books", sa.Column("isbn", sa.String(13), nullable=True))
    op.create_index("ix_books_isbn", "books", ["isbn"], unique=True)


def downgrade() -> None:
    # SQLite's ALTER TABLE cannot drop every kind of column: batch mode copies the table instead.
    with op.batch_alter_table("books") as batch_op:
        batch_op.drop_index("ix_books_isbn")
        batch_op.drop_column("isbn")
