from alembic import context
from sqlalchemy import create_engine

from hjemmeprove.db.models import SQLITE_ONLY_INDEXES, Base, is_search_index

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _include_name(name, type_, parent_names) -> bool:
    """The search's trigram indexes (migration 0009) live outside the models."""
    return name is None or not is_search_index(name, type_)


def _include_object_on(dialect: str):
    """The models' SQLite-only indexes (``Index.ddl_if``) exist on SQLite alone."""
    def include(obj, name, type_, reflected, compare_to) -> bool:
        return not (type_ == "index" and name in SQLITE_ONLY_INDEXES and dialect != "sqlite")
    return include


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, include_name=_include_name,
                      include_object=_include_object_on(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
