"""Alembic environment: the engine comes from replayswarm.db.migrate, never from an ini file."""

from alembic import context

from replayswarm.db.engine import _WRITE
from replayswarm.db.models import Base

engine = context.config.attributes["engine"]

with engine.execution_options(**{_WRITE: True}).connect() as connection:
    # Batch mode: SQLite cannot ALTER most things, so Alembic copies the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
