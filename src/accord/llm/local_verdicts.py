"""Verdict probabilities from llama.cpp: how likely each verdict was at the point the model wrote it.

A judge that answers verdict first (`{"result": "...`) decides in one token. A logits processor watches
the answer grow; when it reaches the opening quote of the result, it reads the model's raw logits for the
first token of every choice, and, when asked, masks all but one choice so that the reason which follows is
written for that verdict. Only the last token's logits are read, so the context needs no `logits_all`.

When only the probabilities are wanted (`ChatRequest.probe_only`), the answer's opening `{"result": "` is
written into the prompt instead of generated: the verdict's distribution is read from the very next token,
so a question costs the prefill of its own few tokens and nothing else. Grammar-constrained generation costs
about 0.13 s a token with this vocabulary; measured on the demo's support cases, a check took 0.45 s instead
of 1.3 s, with P(yes) within 0.06 of the generated answer's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_AT_RESULT = re.compile(r'\s*\{\s*"result"\s*:\s*"')
RESULT_OPENING = '{"result": "'  # how a result-first answer starts, as the grammar lets the model write it


def at_result(written: str) -> bool:
    """Whether an answer written so far stops right where a result-first answer names its verdict."""
    return _AT_RESULT.fullmatch(written) is not None


class VerdictProbe:
    """A llama-cpp-python logits processor; `probabilities` is set once the verdict's position is reached."""

    def __init__(self, llm: Any, choices: Sequence[str], forced: str | None = None) -> None:
        self.llm = llm
        self.choices = list(choices)
        self.forced = forced
        self.token_ids = first_token_ids(llm, self.choices)
        self.probabilities: dict[str, float] | None = None
        self._prompt_len: int | None = None
        self._done = self.token_ids is None

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if self._done:
            return logits
        if self._prompt_len is None:
            self._prompt_len = len(input_ids)
        written = self.llm.detokenize([int(t) for t in input_ids[self._prompt_len :]]).decode("utf-8", "replace")
        if not _AT_RESULT.fullmatch(written):
            if len(written) > 40:  # past the point where a result-first answer names its verdict
                self._done = True
            return logits
        self._done = True
        assert self.token_ids is not None
        self.probabilities = softmax_over(logits, self.token_ids, self.choices)
        if self.forced is not None and self.forced in self.choices:
            keep = self.token_ids[self.choices.index(self.forced)]
            for t in self.token_ids:
                if t != keep:
                    logits[t] = -math.inf
        return logits


class FirstTokenProbe:
    """A logits processor for a prompt that already ends where the verdict is named: reads the first
    sampled position only."""

    def __init__(self, llm: Any, choices: Sequence[str]) -> None:
        self.choices = list(choices)
        self.token_ids = first_token_ids(llm, self.choices)
        self.probabilities: dict[str, float] | None = None

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if self.probabilities is None and self.token_ids is not None:
            self.probabilities = softmax_over(logits, self.token_ids, self.choices)
        return logits


def softmax_over(logits: np.ndarray, token_ids: Sequence[int], choices: Sequence[str]) -> dict[str, float]:
    """The choices' probabilities, renormalised over their first tokens' raw logits."""
    picked = np.array([float(logits[t]) for t in token_ids])
    weights = np.exp(picked - picked.max())
    return {c: float(w / weights.sum()) for c, w in zip(choices, weights, strict=True)}


def first_token_ids(llm: Any, choices: Sequence[str]) -> list[int] | None:
    """The token each choice starts with; None when two choices share it (the first token can't tell)."""
    ids = []
    for choice in choices:
        tokens = llm.tokenize(choice.encode(), add_bos=False, special=False)
        if not tokens:
            return None
        ids.append(int(tokens[0]))
    return ids if len(set(ids)) == len(ids) else None
