"""The store behind the public API: one `SqlStore` per store URI, chosen by `ACCORD_STORE_URI`."""

from __future__ import annotations

from accord.config import store_uri
from accord.store.sql_store import SqlStore

_stores: dict[str, SqlStore] = {}


def get_store() -> SqlStore:
    uri = store_uri()
    store = _stores.get(uri)
    if store is None:
        store = _stores[uri] = SqlStore(uri)
    return store


__all__ = ["SqlStore", "get_store"]
