"""Alembic environment: runs on the connection :func:`omnimaint.service.db.migrate` hands over."""

from alembic import context

from omnimaint.service.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
