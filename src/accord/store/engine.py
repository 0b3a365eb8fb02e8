"""Engines by URI, with SQLite tuned for concurrent readers and the schema brought up to date by Alembic."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DatabaseError

from accord.errors import ConfigError, StoreDamagedError

_MIGRATIONS = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision, in one transaction; a no-op when already there."""
    head = head_revision()
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def get_engine(uri: str) -> Engine:
    with _lock:
        engine = _engines.get(uri)
        if engine is not None:
            return engine
        try:
            if uri.startswith("sqlite"):
                path = uri.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(uri, connect_args={"check_same_thread": False, "timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(uri, pool_pre_ping=True)
        except Exception as exc:  # bad URI, missing driver: never print the password it holds
            raise ConfigError(f"cannot open store {store_location(uri)!r}: {redact(str(exc), uri)}") from None
        try:
            migrate(engine)
        except DatabaseError as exc:
            engine.dispose()
            raise damaged_store(uri, exc) from None
        _engines[uri] = engine
        return engine


_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")


def store_location(uri: str) -> str:
    """The file of a SQLite store, else the URI without its password (even one no driver can parse)."""
    if uri.startswith("sqlite"):
        return uri.split("///", 1)[-1] or uri
    try:
        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # a URI SQLAlchemy cannot read still has its password masked
        return _PASSWORD.sub(r"\1***\3", uri)


def redact(text: str, uri: str) -> str:
    """`text` with the store URI's password masked wherever it appears."""
    text = _PASSWORD.sub(r"\1***\3", text)
    try:
        password = make_url(uri).password
    except Exception:
        found = _PASSWORD.search(uri)
        password = found.group(2) if found else None
    return text.replace(str(password), "***") if password else text


def damaged_store(uri: str, exc: Exception) -> StoreDamagedError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StoreDamagedError(
        f"the store {store_location(uri)} cannot be read ({reason}): restore it from a backup, or run "
        "`accord doctor` to check it"
    )


def check_store(uri: str) -> list[str]:
    """Problems found by the database's own integrity check (empty when none), for `accord doctor`."""
    if uri.startswith("sqlite"):
        path = uri.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            return [f"{path} does not exist yet (it is made on first use)"]
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            return [f"{path}: {exc}"]
        return [] if found == ["ok"] else [f"{path}: {problem}" for problem in found]
    try:
        engine = create_engine(uri, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach or read it is what doctor reports
        return [f"{store_location(uri)}: {str(exc).splitlines()[0]}"]
    return []


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
