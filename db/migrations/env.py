"""Alembic environment: always run on the connection `db.engine.upgrade` hands over."""

from alembic import context

from db.tables import metadata, on_postgresql

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    on_postgresql()
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
