"""Responses of deterministic calls (temperature 0) kept on disk, so a re-run costs no model time.

Policy: an answer is kept only when it was usable (a judge that cannot parse an answer removes it, so a
re-run asks again), and for ACCORD_CACHE_TTL seconds when that is set (older entries count as missing).
`accord cache info` / `accord cache clear` show and empty it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from accord.config import cache_dir, settings
from accord.llm.types import Completion, Usage


class ResponseCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "responses.db"
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Completion | None:
        row = self._connect().execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        body = json.loads(row[0])
        ttl = cache_ttl()
        if ttl is not None and time.time() - float(body.get("stored_at", 0)) > ttl:
            return None
        usage = Usage(prompt_tokens=body["prompt_tokens"], completion_tokens=body["completion_tokens"], cached=True)
        return Completion(
            text=body["text"],
            usage=usage,
            finish_reason=body.get("finish_reason"),
            choice_probabilities=body.get("choice_probabilities"),
        )

    def put(self, key: str, completion: Completion) -> None:
        body = {
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "choice_probabilities": completion.choice_probabilities,
            "stored_at": time.time(),
        }
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(body)))

    def delete(self, key: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM responses WHERE key = ?", (key,))

    def info(self) -> dict[str, Any]:
        rows = [json.loads(b).get("stored_at") for (b,) in self._connect().execute("SELECT body FROM responses")]
        times = [t for t in rows if t is not None]
        ttl = cache_ttl()
        return {
            "path": str(self.path),
            "entries": len(rows),
            "bytes": self.path.stat().st_size if self.path.exists() else 0,
            "oldest": min(times) if times else None,
            "newest": max(times) if times else None,
            "ttl_s": ttl,
            "expired": sum(1 for t in times if ttl is not None and time.time() - t > ttl),
        }

    def clear(self, older_than_s: float | None = None) -> int:
        """Delete every entry (or those stored more than `older_than_s` seconds ago); returns how many."""
        conn = self._connect()
        if older_than_s is None:
            with conn:
                return conn.execute("DELETE FROM responses").rowcount
        cutoff = time.time() - older_than_s
        old = [
            k for k, b in conn.execute("SELECT key, body FROM responses") if json.loads(b).get("stored_at", 0) < cutoff
        ]
        with conn:
            conn.executemany("DELETE FROM responses WHERE key = ?", [(k,) for k in old])
        return len(old)


def cache_ttl() -> float | None:
    """ACCORD_CACHE_TTL: seconds an answer stays usable (unset or 0: no expiry)."""
    return settings().cache_ttl_s
