"""Settings: where accord keeps its data, its default model, the cache policy and the limits on model calls.

They are read from the environment once, into one `Settings` object that every layer asks through
`settings()`. The command line adjusts it with `configure()` (for example `--no-cache`) instead of writing
the environment; a program or a test that changes the environment afterwards calls `reload_settings()`.

    ACCORD_HOME              data folder (default ~/.accord), holds the SQLite store
    ACCORD_STORE_URI         any SQLAlchemy URI (default: SQLite in ACCORD_HOME)
    ACCORD_DEFAULT_MODEL     model URI of judges made without one (default: the embedded local model)
    ACCORD_CACHE_DIR         joined model files and the response cache (default ~/.cache/accord)
    ACCORD_NO_CACHE=1        never answer a model call from the cache
    ACCORD_CACHE_TTL=S       cached answers older than S seconds count as missing
    ACCORD_MAX_CONCURRENCY   model calls in flight per endpoint (default: each provider's own)
    ACCORD_MAX_RETRIES, ACCORD_RETRY_BASE_DELAY   retries of timeouts, 429 and 5xx, and the first backoff
    ACCORD_LOCAL_THREADS     CPU threads of the embedded model (default: every core)
    ACCORD_EXPERIMENT_NAME   the active experiment when none was set
    ACCORD_REVIEW_TOKEN      the review page's access token (a secret: never shown or logged)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accord.errors import ConfigError

DEFAULT_LOCAL_MODEL = "local:/qwen2.5-coder-1.5b"


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float, minimum: float = 0) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number{' of seconds' if 'TTL' in name else ''}, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    store_uri: str
    default_model: str
    cache_dir: Path
    use_cache: bool = True
    cache_ttl_s: float | None = None  # None: cached answers never expire
    max_concurrency: int = 0  # 0: each provider's own default
    max_retries: int = 4
    retry_base_delay_s: float = 1.0
    local_threads: int = 0  # 0: every core
    experiment: str | None = None
    review_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("ACCORD_HOME") or Path.home() / ".accord").expanduser()
        if env.get("ACCORD_CACHE_DIR"):
            cache = Path(env["ACCORD_CACHE_DIR"]).expanduser()
        else:  # shared between stores, so outside ACCORD_HOME
            cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "accord"
        ttl = _number(env, "ACCORD_CACHE_TTL", 0.0)
        return cls(
            home=home,
            store_uri=env.get("ACCORD_STORE_URI") or f"sqlite:///{home / 'accord.db'}",
            default_model=env.get("ACCORD_DEFAULT_MODEL") or DEFAULT_LOCAL_MODEL,
            cache_dir=cache,
            use_cache=env.get("ACCORD_NO_CACHE", "") in ("", "0"),
            cache_ttl_s=ttl if ttl > 0 else None,
            max_concurrency=_number(env, "ACCORD_MAX_CONCURRENCY", 0, int),
            max_retries=_number(env, "ACCORD_MAX_RETRIES", 4, int),
            retry_base_delay_s=_number(env, "ACCORD_RETRY_BASE_DELAY", 1.0),
            local_threads=_number(env, "ACCORD_LOCAL_THREADS", 0, int),
            experiment=env.get("ACCORD_EXPERIMENT_NAME") or None,
            review_token=env.get("ACCORD_REVIEW_TOKEN") or None,
        )


_current: Settings | None = None
_lock = threading.Lock()


def settings() -> Settings:
    """The settings in force: read from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Settings.from_environment()
        return _current


def configure(**changes: Any) -> Settings:
    """Change some settings for the rest of the process (the CLI's options do this)."""
    global _current
    updated = replace(settings(), **changes)
    with _lock:
        _current = updated
    return updated


def set_tracking_uri(uri: str) -> None:
    """MLflow's `set_tracking_uri`: where traces, feedback and judges are stored, for the rest of the process.
    A SQLAlchemy URI (`sqlite:///path.db`, `postgresql://...`), or a folder path (its `accord.db`)."""
    text = str(uri)
    if "://" not in text:
        folder = Path(text.removeprefix("file:")).expanduser()
        text = f"sqlite:///{folder / 'accord.db'}"
    configure(store_uri=text)


def reload_settings() -> Settings:
    """Read the environment again (after a program or a test changed it)."""
    global _current
    fresh = Settings.from_environment()
    with _lock:
        _current = fresh
    return fresh


def accord_home() -> Path:
    home = settings().home
    home.mkdir(parents=True, exist_ok=True)
    return home


def store_uri() -> str:
    return settings().store_uri  # the engine makes a SQLite file's folder


def default_model() -> str:
    return settings().default_model


def cache_dir() -> Path:
    path = settings().cache_dir
    path.mkdir(parents=True, exist_ok=True)
    return path
