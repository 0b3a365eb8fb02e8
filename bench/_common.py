"""Shared helpers for the benchmarks: a throwaway ACCORD_HOME and writing results."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def isolated_home(keep_cache: bool = False) -> Path:
    """Point accord at a fresh store (and, unless `keep_cache`, a fresh response cache)."""
    home = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    os.environ["ACCORD_HOME"] = str(home)
    if not keep_cache:
        os.environ["ACCORD_CACHE_DIR"] = str(home / "cache")
    return home


def home_with_cache(cache: str) -> Path:
    """A fresh store; the model's answers kept and reused in `cache` when given, else none cached at all."""
    home = isolated_home(keep_cache=bool(cache))
    if cache:
        os.environ["ACCORD_CACHE_DIR"] = str(Path(cache).resolve())
    else:
        os.environ["ACCORD_NO_CACHE"] = "1"  # every verdict and reflection call is really computed
    return home


def save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        **result,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
