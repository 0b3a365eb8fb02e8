"""The words a fitted decision's memory reads (a text's words and word pairs, hashed into buckets), and the
training words its buckets stand for, so the decision can say what it learned and which words moved a verdict.

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


def remember(
    texts: Sequence[str], leanings: Sequence[np.ndarray], buckets: int, per_verdict: int = 40
) -> dict[str, str]:
    """For the buckets that lean most to each verdict (`leanings`: one weight per bucket, for each verdict), the
    training word each stands for. Only words of at least two texts and at most 80% of them: a word of every
    answer ('order', 'your') weighs only the answer's length."""
    found = vocabulary(texts, buckets)
    kept: dict[str, str] = {}
    for lean in leanings:
        named = 0
        for b in np.argsort(-lean):
            if lean[b] <= 0 or named == per_verdict:
                break
            word, count = found.get(int(b), ("", 0))
            if 2 <= count <= 0.8 * len(texts):
                kept[str(int(b))] = word
                named += 1
    return kept


def strongest(known: dict[str, str], lean: np.ndarray, most: int) -> list[str]:
    """The remembered words (`known`: bucket -> word) that lean most to one verdict."""
    ranked = sorted((int(b) for b in known), key=lambda b: -lean[b])
    return [known[str(b)] for b in ranked[:most] if lean[b] > 0]


def marking(known: dict[str, str], push: np.ndarray, text: str, buckets: int, most: int) -> list[str]:
    """The words of `text` whose buckets pushed a verdict most (`push`, per bucket), a word named only when it is
    the remembered word its bucket stands for (a new word that shares a bucket is never named)."""
    weighed: dict[int, tuple[float, str]] = {}
    for token in tokens(text):
        b = bucket(token, buckets)
        if known.get(str(b)) == token:
            weighed[b] = (float(push[b]), token)
    ranked = sorted(weighed.values(), key=lambda pair: -pair[0])
    return [token for value, token in ranked[:most] if value > 0]
