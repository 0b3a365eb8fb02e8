"""Where accord keeps its data, read from the environment each time so tests can point it elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LOCAL_MODEL = "local:/qwen2.5-coder-1.5b"


def accord_home() -> Path:
    home = Path(os.environ.get("ACCORD_HOME") or Path.home() / ".accord").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def store_uri() -> str:
    return os.environ.get("ACCORD_STORE_URI") or f"sqlite:///{accord_home() / 'accord.db'}"


def default_model() -> str:
    return os.environ.get("ACCORD_DEFAULT_MODEL") or DEFAULT_LOCAL_MODEL


def cache_dir() -> Path:
    """Joined model files and the response cache; shared between stores, so outside ACCORD_HOME by default."""
    base = os.environ.get("ACCORD_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = Path(base).expanduser()
    if "ACCORD_CACHE_DIR" not in os.environ:
        path = path / "accord"
    path.mkdir(parents=True, exist_ok=True)
    return path
