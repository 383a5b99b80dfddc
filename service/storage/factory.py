"""Choosing the store from ``CDS_DATABASE_URL``."""

from __future__ import annotations

from service.storage.base import Store
from service.storage.postgres import PostgresStore
from service.storage.sqlite import SqliteStore


def open_store(url: str) -> Store:
    """``sqlite:///relative/path``, ``sqlite:////abs/path``, ``sqlite://:memory:`` or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url == "sqlite://:memory:":
        return SqliteStore(":memory:")
    raise ValueError("CDS_DATABASE_URL must start with sqlite:/// or postgresql://")
