"""Every test gets its own ACCORD_HOME (a fresh SQLite store), its own cache and the scripted fake model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord import experiments
from accord.llm import fake, model
from accord.store import _stores
from accord.store.engine import dispose_engines


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
    yield home
    fake.reset()
    _stores.clear()
    experiments._active.clear()
    model._models.clear()
    dispose_engines()


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
