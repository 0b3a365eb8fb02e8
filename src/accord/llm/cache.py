"""Responses of deterministic calls (temperature 0) kept on disk, so a re-run costs no model time.

Policy: an answer is kept only when it was usable (a judge that cannot parse an answer removes it, so a
re-run asks again), and for ACCORD_CACHE_TTL seconds when that is set (older entries count as missing).
`accord cache info` / `accord cache clear` show and empty it.

The cache only saves model time, so it never fails a verdict: while its file is locked by other processes
(Ray workers opening it at once) or damaged, lookups miss and answers are not kept, with one warning.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from accord.config import cache_dir, settings
from accord.errors import AccordError
from accord.llm.types import Completion, Usage

log = logging.getLogger("accord.llm")

# Switching to WAL takes a lock that SQLite's busy timeout does not wait for, so opening is retried, for as
# long as that timeout.


class ResponseCache:
    def __init__(self, path: Path | None = None, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path or cache_dir() / "responses.db"
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._warned = False

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
            deadline, attempt = time.monotonic() + self.busy_timeout_s, 0
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    with conn:
                        conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL)")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        conn.close()
                        raise
                    attempt += 1
                    time.sleep(min(0.05 * attempt, 0.5))
            self._local.conn = conn
        return conn

    def _unusable(self, exc: sqlite3.Error) -> None:
        if not self._warned:
            self._warned = True
            log.warning("response cache %s unusable (%s); answers are neither replayed nor kept", self.path, exc)

    def get(self, key: str) -> Completion | None:
        """The kept answer, or None when there is none, it expired, or the cache cannot be read."""
        try:
            row = self._connect().execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._unusable(exc)
            return None
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
        try:
            with self._connect() as conn:
                conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(body)))
        except sqlite3.Error as exc:
            self._unusable(exc)

    def delete(self, key: str) -> None:
        try:
            with self._connect() as conn:
                conn.execute("DELETE FROM responses WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            self._unusable(exc)

    def _damaged(self, exc: sqlite3.Error) -> AccordError:
        return AccordError(f"the response cache {self.path} cannot be read ({exc}); delete it to start a new one")

    def info(self) -> dict[str, Any]:
        try:
            rows = [json.loads(b).get("stored_at") for (b,) in self._connect().execute("SELECT body FROM responses")]
        except sqlite3.Error as exc:
            raise self._damaged(exc) from None
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
        try:
            return self._clear(older_than_s)
        except sqlite3.Error as exc:
            raise self._damaged(exc) from None

    def _clear(self, older_than_s: float | None) -> int:
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
