"""`accord.openai.autolog()`: trace every chat completion made with the OpenAI client (as
`mlflow.openai.autolog()` does), sync and async."""

from __future__ import annotations

from accord.autolog import patch


def autolog(disable: bool = False) -> None:
    """Record each `client.chat.completions.create(...)` as a CHAT_MODEL span; `disable=True` stops."""
    from openai.resources.chat.completions import AsyncCompletions, Completions

    patch(Completions, "create", "openai", "Completions", disable)
    patch(AsyncCompletions, "create", "openai", "AsyncCompletions", disable)


__all__ = ["autolog"]
