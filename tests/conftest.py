"""Every test gets its own ACCORD_HOME (a fresh SQLite store), its own cache and the scripted fake model."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord import experiments
from accord.config import reload_settings
from accord.llm import fake, model
from accord.store import _stores, get_store
from accord.store.engine import dispose_engines

FULL_SUITE = os.environ.get("ACCORD_FULL_SUITE") == "1"
PG_URI = os.environ.get("ACCORD_TEST_POSTGRES_URI")
STORES = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def accord_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("ACCORD_HOME", str(home))
    monkeypatch.setenv("ACCORD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ACCORD_DEFAULT_MODEL", "fake:")
    monkeypatch.setenv("ACCORD_RETRY_BASE_DELAY", "0.01")
    monkeypatch.delenv("ACCORD_STORE_URI", raising=False)
    monkeypatch.delenv("ACCORD_NO_CACHE", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("ACCORD_CACHE_TTL", "ACCORD_MAX_CONCURRENCY", "ACCORD_EXPERIMENT_NAME", "ACCORD_REVIEW_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reload_settings()  # every test reads the environment it set up, once
    yield home
    fake.reset()
    _stores.clear()
    experiments._active.clear()
    model.forget_models()  # a later test's server may get this one's port, with another limit
    dispose_engines()
    monkeypatch.undo()
    reload_settings()


def need(available: bool, what: str) -> None:
    if available:
        return
    if FULL_SUITE:
        pytest.fail(f"{what} is missing; `make test` should have set it up")
    pytest.skip(f"{what} is not available (run `make test`)")


# stores ----------------------------------------------------------------------------------------------
@pytest.fixture(params=STORES)
def store_uri(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test on SQLite (its own ACCORD_HOME) and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield get_store().uri
        return
    need(bool(PG_URI), "PostgreSQL (ACCORD_TEST_POSTGRES_URI)")
    import psycopg

    assert PG_URI is not None
    admin = PG_URI.replace("postgresql+psycopg://", "postgresql://")
    name = f"accord_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = PG_URI.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("ACCORD_STORE_URI", uri)
    reload_settings()
    yield uri
    dispose_engines()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def trace_row(i: int, label: str = "yes", name: str = "quality", **extra: Any) -> dict[str, Any]:
    return {
        "trace_id": f"t-{i}",
        "inputs": {"question": f"question {i}"},
        "outputs": f"answer {i}",
        "expectations": {},
        "tags": {"topic": "a" if i % 2 else "b"},
        "assessments": [
            {
                "name": name,
                "value": label,
                "rationale": f"because {i}",
                "source": {"type": "HUMAN", "id": "expert"},
            }
        ],
        **extra,
    }
