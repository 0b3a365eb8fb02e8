"""The training traces asked every check, and the judge's own task, once: the features every candidate
decision is cross-validated on. With many checks and traces, a check that separates nothing on a stratified
sample is not asked of the rest (asking is most of the cost of aligning)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from rich.progress import Progress

from accord.align.checks import CaseFeatures, Check, answer_choices, ask_case
from accord.align.checks.decision import MEMORY_WORDS
from accord.align.checks.grounding import grounding_rows
from accord.align.checks.selection import separation
from accord.align.checks.words import hashed_words
from accord.align.labels import Label
from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import memory_text
from accord.judges.pairwise import PairwiseJudge

log = logging.getLogger("accord.align")

SCREEN_TRACES = 30  # with at least three times as many training traces, checks are screened on this many first
# with 60 to 89 training traces, on this many: the demo's 60 traces then ask 20% fewer questions (670 instead of
# 840) and its held-out kappa stays 0.70
SMALL_SCREEN_TRACES = 20
# lenient: a check this poor on the screening traces is not asked of the rest (0.1 until the demo showed 0.15
# asks 50 fewer questions and keeps its held-out kappa)
SCREEN_SEPARATION = 0.15
# then again on half the training traces, nearer the final bar: most checks that pass 30 traces by chance fail
# there (halueval, 200 traces: 4 of 6 passed the first screening and none was kept in the end)
SECOND_SCREEN_SEPARATION = 0.15


def _screening_rows(y: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """A stratified sample of training rows, every verdict in proportion."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for value in np.unique(y):
        members = np.flatnonzero(y == value)
        rng.shuffle(members)
        picked += members[: max(2, round(size * len(members) / len(y)))].tolist()
    return np.array(sorted(picked), dtype=int)


def _screening_stages(
    y: np.ndarray, n_checks: int, first: int, at_most: int | None
) -> list[tuple[np.ndarray, float | None, int | None]]:
    """Growing, nested sets of training rows, each with the separation a check must reach on it to be asked
    of the next, and how many checks at most go on: `first` rows (stratified), then half of all rows (at most
    `at_most` go on), then all (no bar: the final one is MIN_SEPARATION, applied when the checks are kept).
    Only with two or more checks and at least three times `first` rows; otherwise every check is asked of
    every row."""
    everything = np.arange(len(y))
    if n_checks < 2 or len(y) < 3 * first:
        return [(everything, None, None)]
    small = _screening_rows(y, first)
    rest = np.random.default_rng(1).permutation(np.setdiff1d(everything, small))
    half = np.sort(np.concatenate([small, rest[: max(0, len(y) // 2 - len(small))]]))
    return [(small, SCREEN_SEPARATION, None), (half, SECOND_SCREEN_SEPARATION, at_most), (everything, None, None)]


def input_groups(labels: Sequence[Label]) -> np.ndarray:
    """One group per distinct inputs: outputs judged for the same source document stay in one fold."""
    keys = [json.dumps(label.trace.inputs, sort_keys=True, default=str) for label in labels]
    index: dict[str, int] = {}
    return np.array([index.setdefault(k, len(index)) for k in keys], dtype=int)


def training_features(
    judge: MemAlignJudge,
    checks: Sequence[Check],
    labels: Sequence[Label],
    classes: list[Any],
    concurrency: int,
    progress: Progress,
    y: np.ndarray | None = None,
    regression: bool = False,
    at_most: int | None = None,
) -> tuple[CaseFeatures, float, dict[int, str]]:
    """Every training case asked the checks (and the judge's own task) once; the examples' embeddings and
    hashed words.

    With many checks and traces, every check is first asked on a stratified screening sample, then on half
    the traces; a check that separates the labels too little at either point (under SCREEN_SEPARATION, then
    SECOND_SCREEN_SEPARATION) is not asked of the other traces, which is most of the cost of aligning.
    At half the traces, at most `at_most` checks (the most the decision weighs) go on to be asked of the rest:
    the demo's 60 traces then ask 590 questions instead of 620 (alignment 241 s, one base pass 229 s).
    Returns also why each screened-out check was dropped."""
    base = judge.base
    task = progress.add_task("asking the checks", total=len(labels))
    answers: list[Any] = [None] * len(labels)
    asked_checks: list[list[int]] = [list(range(len(checks)))] * len(labels)

    def ask(row: int, which: list[int]) -> None:
        try:
            answers[row] = ask_case(base, [checks[j] for j in which], base.gather(trace=labels[row].trace))
            asked_checks[row] = which
        finally:
            progress.advance(task)

    started = time.perf_counter()
    survivors = list(range(len(checks)))
    screened: dict[int, str] = {}
    first = SCREEN_TRACES if len(labels) >= 3 * SCREEN_TRACES else SMALL_SCREEN_TRACES
    stages = (
        _screening_stages(y, len(checks), first, at_most) if y is not None else [(np.arange(len(labels)), None, None)]
    )
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="accord-checks") as pool:
        for rows, bar, keep in stages:
            fresh = [int(row) for row in rows if answers[int(row)] is None]
            list(pool.map(ask, fresh, [survivors] * len(fresh)))
            if bar is None or y is None:
                continue
            p = np.full((len(rows), len(checks)), np.nan)
            for i, row in enumerate(rows):
                for j, p_yes in zip(asked_checks[int(row)], answers[int(row)].checks, strict=True):
                    p[i, j] = np.nan if p_yes is None else p_yes
            scores = {j: separation(p[:, j], y[rows].astype(float), regression) for j in survivors}
            for j in [j for j in survivors if scores[j] < bar]:
                screened[j] = f"does not separate the labels of {len(rows)} screening traces ({scores[j]:.2f})"
                log.debug("screened out check %r: %s", checks[j].question, screened[j])
            survivors = [j for j in survivors if j not in screened]
            if keep is not None and len(survivors) > keep:
                ranked = sorted(survivors, key=lambda j: -scores[j])
                for j in ranked[keep:]:
                    screened[j] = (
                        f"not among the {keep} checks that separate the labels of {len(rows)} screening traces "
                        f"best ({scores[j]:.2f})"
                    )
                survivors = sorted(ranked[:keep])
    seconds = time.perf_counter() - started
    spelled = {repr(value): text for text, value in answer_choices(base) or []}
    judge_rows = np.full((len(labels), len(classes)), np.nan)
    check_rows = np.full((len(labels), len(checks)), np.nan)
    for i, found in enumerate(answers):
        if found.judge:
            for j, c in enumerate(classes):
                judge_rows[i, j] = found.judge.get(spelled.get(repr(c), str(c)), np.nan)
        for j, p_yes in zip(asked_checks[i], found.checks, strict=True):
            check_rows[i, j] = np.nan if p_yes is None else p_yes
    row_of = {e.trace_id: i for i, e in enumerate(judge.memory.examples)}
    vectors = np.stack([judge.memory.vectors[row_of[label.trace.trace_id]] for label in labels])
    texts = [memory_text(label.trace, judge.embed) for label in labels]
    # a pair's words do not say which response they came from: its memory reads the embeddings alone
    words = None if isinstance(base, PairwiseJudge) else hashed_words(texts, MEMORY_WORDS)
    overlap = grounding_rows((label.trace.inputs, label.trace.outputs) for label in labels)
    features = CaseFeatures(judge_rows, check_rows, vectors, input_groups(labels), overlap, words)
    return features, seconds, screened
