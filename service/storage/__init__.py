"""Durable state (card feedback, the JWT replay cache): SQLite by default, PostgreSQL for replicas."""

from service.storage.base import Store, StoreUnavailable
from service.storage.factory import open_store
from service.storage.postgres import PostgresStore
from service.storage.sqlite import SqliteStore

__all__ = ["PostgresStore", "SqliteStore", "Store", "StoreUnavailable", "open_store"]
