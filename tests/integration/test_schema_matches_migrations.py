"""The tables as the code declares them (``adapters/db/tables.py``) and as the migrations
build them agree, on the engine the suite runs on: a column, index or type added to one
and not the other fails here, not in production."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kasse.adapters.db.engine import create_engine
from kasse.adapters.db.tables import metadata


def _differences(url: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(url)

        def compare(connection: Any) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_the_declared_tables_are_the_migrated_ones(empty_db_url: str) -> None:
    assert _differences(empty_db_url) == []
