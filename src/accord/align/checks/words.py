"""The words a fitted decision's memory reads: a text's words and word pairs, hashed into buckets.

Stored decisions hold weights per bucket, so this tokenising and hashing is part of their format: changing it
would silently change the verdicts of every judge aligned before. It is kept here, apart from the hashing
embedder (a stand-in embedder that may change), and must not change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """The words of a text, lower-cased, then its pairs of neighbouring words."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def bucket(token: str, buckets: int) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little") % buckets


def hashed_words(texts: Sequence[str], buckets: int) -> np.ndarray:
    """n x buckets: each text's token counts, scaled to unit length (a long answer weighs as much as a short one)."""
    counts = np.zeros((len(texts), buckets), dtype=np.float32)
    for row, text in enumerate(texts):
        for token in tokens(text):
            counts[row, bucket(token, buckets)] += 1.0
    norms = np.linalg.norm(counts, axis=1, keepdims=True)
    return counts / np.where(norms == 0, 1.0, norms)


def vocabulary(texts: Sequence[str], buckets: int) -> dict[int, tuple[str, int]]:
    """Each bucket's most frequent token over `texts` and how many texts have it (a bucket stands for it)."""
    seen: dict[int, dict[str, int]] = {}
    for text in texts:
        for token in set(tokens(text)):
            counts = seen.setdefault(bucket(token, buckets), {})
            counts[token] = counts.get(token, 0) + 1
    return {b: max(counts.items(), key=lambda kv: (kv[1], kv[0])) for b, counts in seen.items()}
