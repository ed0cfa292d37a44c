"""Pick the store the settings ask for. psycopg is imported only when PostgreSQL is chosen."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.errors import ConfigError
from bot.index.changelog import Retention
from bot.index.storage import Store

DATABASE_URL_ENV = "QUOTEBOT_DATABASE_URL"


def open_store(settings: Settings, on_notice: Callable[[str], None] | None = None) -> Store:
    if settings.index.store == "postgres":
        return open_postgres(settings, on_notice)
    from bot.stores.files import FileStore

    return FileStore(
        settings.index_dir,
        settings.index.lock_timeout_seconds,
        on_notice,
        memory_dtype=settings.index.memory_dtype,
        retention=retention(settings),
    )


def open_postgres(settings: Settings, on_notice: Callable[[str], None] | None = None) -> Store:
    if settings.database_url is None or not settings.database_url.get_secret_value().strip():
        raise ConfigError(
            f'[index] store = "postgres" needs the database URL in the environment variable '
            f"{DATABASE_URL_ENV} (postgresql://user:password@host:5432/dbname)"
        )
    from bot.stores.postgres.db import Database, PgOptions
    from bot.stores.postgres.store import PgStore

    pg = settings.postgres
    options = PgOptions(
        ef_search=pg.ef_search,
        pool_size=pg.pool_size,
        connect_timeout=pg.connect_timeout_seconds,
        writer_retry_seconds=pg.writer_retry_seconds,
        retired_grace_seconds=pg.retired_grace_seconds,
        build_memory_mb=pg.build_memory_mb,
        hnsw_m=pg.hnsw_m,
        hnsw_ef_construction=pg.hnsw_ef_construction,
    )
    database = Database(settings.database_url.get_secret_value().strip(), options)
    return PgStore(
        database, settings.index.lock_timeout_seconds, on_notice, retention=retention(settings)
    )


def retention(settings: Settings) -> Retention:
    return Retention(settings.index.changelog_days, settings.index.changelog_max_entries)
