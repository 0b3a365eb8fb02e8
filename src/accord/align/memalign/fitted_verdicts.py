"""Verdicts of an aligned judge in "fitted" mode: the checks asked one by one after the case, the decision
fitted to the experts weighing them (with the judge's own probabilities, the memory and the grounding
measures it was fitted on), and a rationale that names what moved the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from accord.align.checks import CaseFeatures, Check, answer_choices, ask_case
from accord.align.checks.grounding import grounding_rows
from accord.align.checks.words import hashed_words
from accord.align.memalign.memory import example_text, retrieved_cases
from accord.entities import AssessmentError, Feedback
from accord.judges.asking import Answer
from accord.judges.base import JudgeInput
from accord.llm import get_model

NEAREST_SHOWN = 3  # nearest labelled cases named with a fitted verdict

if TYPE_CHECKING:
    from accord.align.memalign.judge import MemAlignJudge


def asked_checks(judge: MemAlignJudge) -> list[Check]:
    """The checks the decision weighs, in its order (a stale decision: the current ones at its places)."""
    assert judge.fitted is not None
    return judge.checks[: len(judge.fitted.check_questions)]


def case_features(judge: MemAlignJudge, given: JudgeInput) -> tuple[CaseFeatures, Any, str]:
    """One case's features for the fitted decision, what the model answered, and the text the memory reads
    ("" when the decision weighs no memory)."""
    assert judge.fitted is not None
    fitted = judge.fitted
    asked = asked_checks(judge)
    answers = ask_case(judge.base, asked, given, ask_judge=fitted.asks_judge)
    judge_row = np.full(len(fitted.classes), np.nan)
    if answers.judge:
        spelled = {repr(value): text for text, value in answer_choices(judge.base) or []}
        for i, c in enumerate(fitted.classes):
            judge_row[i] = answers.judge.get(spelled.get(repr(c), str(c)), np.nan)
    checks_row = np.full(len(fitted.check_questions), np.nan)
    for i, p in enumerate(answers.checks):
        checks_row[i] = np.nan if p is None else p
    text = ""
    if fitted.uses_memory:
        from accord.embeddings import get_embedder

        text = example_text(given.inputs, given.outputs, given.expectations, judge.embed)
        vectors = get_embedder(judge.embedder).embed([text])
        words = hashed_words([text], fitted.memory_words) if fitted.memory_words else None
    else:
        vectors, words = np.zeros((1, 0), dtype=np.float32), None
    overlap = grounding_rows([(given.inputs, given.outputs)]) if fitted.grounding else None
    features = CaseFeatures(judge_row[None, :], checks_row[None, :], vectors, grounding=overlap, words=words)
    return features, answers, text


def judge_fitted(judge: MemAlignJudge, given: JudgeInput) -> Feedback:
    assert judge.fitted is not None
    model = get_model(judge.model)
    features, answers, text = case_features(judge, given)
    asked = (1 if answers.judge is not None or judge.fitted.uses_judge else 0) + len(answers.checks)
    if asked and answers.judge is None and all(p is None for p in answers.checks):
        error = AssessmentError(error_code="MODEL_ERROR", error_message="the model answered none of the checks")
        return judge.feedback_from(given, Answer(error=error), model.uri)
    index, confidence = judge.fitted.predict(features)
    questions = [c.question for c in asked_checks(judge)]
    metadata: dict[str, Any] = {
        "decision": judge.fitted.candidate,
        "confidence": round(float(confidence[0]), 4),
        "checks": [
            {"question": q, "p_yes": None if p is None else round(p, 4)}
            for q, p in zip(questions, answers.checks, strict=False)
        ],
        "usage": {"latency_s": round(answers.seconds, 4), "prompt_tokens": answers.prompt_tokens},
    }
    if answers.judge is not None:
        metadata["verdict_probabilities"] = {k: round(v, 4) for k, v in answers.judge.items()}
        own = max(answers.judge, key=answers.judge.__getitem__)
        spelled = {text: value for text, value in answer_choices(judge.base) or []}
        # the checks decided against the judge's own verdict: a case the experts should see
        metadata["overruled_judge"] = repr(spelled.get(own, own)) != repr(judge.fitted.classes[int(index[0])])
    decided = judge.fitted.class_probabilities(features)
    if decided is not None:  # what the decision weighs the verdicts at (both orders of a pair average these)
        metadata["decision_probabilities"] = {
            str(c): round(float(p), 4) for c, p in zip(judge.fitted.classes, decided[0], strict=True)
        }
    # the expert-labelled cases nearest this one, so an explanation can point at them (the review page links them)
    metadata["retrieved"] = retrieved_cases(judge.retrieve(given)[:NEAREST_SHOWN])
    value = judge.fitted.classes[int(index[0])]
    rationale = judge.fitted.explain(features, int(index[0]), questions, text)
    return judge.feedback_from(given, Answer(value, rationale, metadata=metadata), model.uri)
