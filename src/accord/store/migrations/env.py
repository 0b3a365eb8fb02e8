"""Alembic environment: accord passes its own connection in `config.attributes`."""

from alembic import context
from sqlalchemy import create_engine

from accord.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # run by hand: `alembic -x url=sqlite:///... upgrade head`
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
