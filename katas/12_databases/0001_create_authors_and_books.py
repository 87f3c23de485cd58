"""Create authors and books.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa  # noqa: F401 (what upgrade and downgrade are written with)
from alembic import op  # noqa: F401

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """TODO (task 7): create `authors` and `books` as models.py declares them, without `isbn`
    (it comes with 0002): columns, types, nullability, the UNIQUE email, the foreign key and
    the index on books.author_id."""


def downgrade() -> None:
    """TODO (task 7): drop what upgrade() created."""
