"""Verdict probabilities from llama.cpp: how likely each verdict was at the point the model wrote it.

A judge that answers verdict first (`{"result": "...`) decides in one token. A logits processor watches
the answer grow; when it reaches the opening quote of the result, it reads the model's raw logits for the
first token of every choice, and, when asked, masks all but one choice so that the reason which follows is
written for that verdict. Only the last token's logits are read, so the context needs no `logits_all`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_AT_RESULT = re.compile(r'\s*\{\s*"result"\s*:\s*"')


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
        picked = np.array([float(logits[t]) for t in self.token_ids])
        weights = np.exp(picked - picked.max())
        self.probabilities = {c: float(w / weights.sum()) for c, w in zip(self.choices, weights, strict=True)}
        if self.forced is not None and self.forced in self.choices:
            keep = self.token_ids[self.choices.index(self.forced)]
            for t in self.token_ids:
                if t != keep:
                    logits[t] = -math.inf
        return logits


def first_token_ids(llm: Any, choices: Sequence[str]) -> list[int] | None:
    """The token each choice starts with; None when two choices share it (the first token can't tell)."""
    ids = []
    for choice in choices:
        tokens = llm.tokenize(choice.encode(), add_bos=False, special=False)
        if not tokens:
            return None
        ids.append(int(tokens[0]))
    return ids if len(set(ids)) == len(ids) else None
