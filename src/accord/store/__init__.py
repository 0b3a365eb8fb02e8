"""The store behind the public API: one `SqlStore` per store URI, chosen by `ACCORD_STORE_URI`. The layers
above use it through the `Store` protocol; SQL lives only here."""

from __future__ import annotations

import threading

from accord.config import store_uri
from accord.store.protocol import Store
from accord.store.sql_store import SqlStore

_stores: dict[str, SqlStore] = {}


_creating = threading.Lock()


def get_store() -> Store:
    uri = store_uri()
    store = _stores.get(uri)
    if store is None:
        with _creating:  # threads serving their first requests at once share one store
            store = _stores.get(uri)
            if store is None:
                store = _stores[uri] = SqlStore(uri)
    return store


__all__ = ["SqlStore", "Store", "get_store"]
