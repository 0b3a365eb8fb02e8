"""Embedders by name: "minilm" (default, int8 ONNX), "hash" or "hash:DIM", or a litellm model such as
"openai/text-embedding-3-small"."""

from __future__ import annotations

import threading

from accord.embeddings.base import Embedder, normalize
from accord.embeddings.others import HashingEmbedder, LiteLLMEmbedder

DEFAULT_EMBEDDER = "minilm"
_cache: dict[str, Embedder] = {}
_lock = threading.Lock()


def get_embedder(name: str | None = None) -> Embedder:
    """One shared embedder per name (the ONNX session is loaded once per process)."""
    name = name or DEFAULT_EMBEDDER
    with _lock:
        if name not in _cache:
            if name == "minilm":
                from accord.embeddings.minilm import MiniLMEmbedder

                _cache[name] = MiniLMEmbedder()
            elif name == "hash" or name.startswith("hash:"):
                dim = int(name.split(":", 1)[1]) if ":" in name else 512
                _cache[name] = HashingEmbedder(dim)
            else:
                _cache[name] = LiteLLMEmbedder(name.replace(":/", "/", 1))
        return _cache[name]


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "HashingEmbedder", "LiteLLMEmbedder", "get_embedder", "normalize"]
