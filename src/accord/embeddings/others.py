"""Embedders besides the default: any litellm embedding model, and a dependency-free hashing embedder
(bag of words) for tests and for machines without the ONNX model."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from accord.embeddings.base import normalize
from accord.errors import ModelError

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Words and word pairs hashed into a fixed number of buckets: crude, deterministic, instant."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.name = f"hash:{dim}"

    def _bucket(self, token: str) -> int:
        return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little") % self.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]:
                vectors[row, self._bucket(token)] += 1.0
        return normalize(vectors)


class LiteLLMEmbedder:
    def __init__(self, model: str) -> None:
        self.model = model
        self.name = model

    def embed(self, texts: list[str]) -> np.ndarray:
        from accord.llm.remote import _litellm

        try:
            response = _litellm().embedding(model=self.model, input=texts)
        except Exception as exc:
            raise ModelError(f"embedding failed: {str(exc).splitlines()[0][:200]}", model=self.model) from exc
        return normalize(np.array([item["embedding"] for item in response.data], dtype=np.float32))
