# Kata 12 · Databases — Alembic's environment: what env.py runs (given). The revisions are task 7.
#
# Alembic keeps a project's migrations in a folder (`alembic init migrations`): env.py, and the
# revision files in versions/. The grader takes only the kata folder's top-level modules, so here
# env.py's work is `run_migrations()`, and each revision is a top-level NNNN_slug.py file. The
# tests, and `python migrations.py upgrade head`, lay them out as Alembic expects in a temporary
# folder: an env.py that calls run_migrations(), and versions/ with copies of the NNNN_*.py files.

import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from models import Base
from sqlalchemy import create_engine

from settings import get_settings


def run_migrations() -> None:
    """Run the migrations Alembic asked for, on the database the app's settings name."""
    engine = create_engine(get_settings().database_url)
    with engine.connect() as connection:
        # target_metadata lets `alembic revision --autogenerate` compare the models with the
        # database; render_as_batch makes it write operations that SQLite can run.
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main(direction: str, revision: str) -> None:
    """`python migrations.py upgrade head` (or `downgrade base`) on LIBRARY_DATABASE_URL."""
    with tempfile.TemporaryDirectory() as scratch:
        scripts = Path(scratch)
        (scripts / "versions").mkdir()
        (scripts / "env.py").write_text("import migrations\n\nmigrations.run_migrations()\n")
        for path in Path(__file__).resolve().parent.glob("[0-9][0-9][0-9][0-9]_*.py"):
            shutil.copy(path, scripts / "versions" / path.name)
        config = Config()
        config.set_main_option("script_location", str(scripts))
        getattr(command, direction)(config, revision)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("upgrade", "downgrade"):
        sys.exit("usage: python migrations.py upgrade|downgrade REVISION")
    main(*sys.argv[1:])
