"""Alembic's entry point for the report store: always online, on the connection it is given."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=config.attributes["version_table"],
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table where needed.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
