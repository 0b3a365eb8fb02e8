"""Responses of deterministic calls (temperature 0) kept on disk, so a re-run costs no model time."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from accord.config import cache_dir
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
        }
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(body)))
