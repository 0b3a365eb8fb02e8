"""`accord.litellm.autolog()`: trace every `litellm.completion` / `litellm.acompletion` call (as
`mlflow.litellm.autolog()` does)."""

from __future__ import annotations

from accord.autolog import patch


def autolog(disable: bool = False) -> None:
    """Record each `litellm.completion(...)` call as a CHAT_MODEL span; `disable=True` stops."""
    import litellm

    patch(litellm, "completion", "litellm", "completion", disable)
    patch(litellm, "acompletion", "litellm", "acompletion", disable)


__all__ = ["autolog"]
