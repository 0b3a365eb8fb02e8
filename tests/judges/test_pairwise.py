"""Pairwise judges: order control against a position-biased model, the pair form, ties in agreement, the
registry and alignment."""

from __future__ import annotations

from pathlib import Path

import pytest

import accord
from accord.entities import Feedback
from accord.errors import TemplateError
from accord.importing import import_traces
from accord.judges import PairwisePreference, make_pairwise_judge
from accord.judges.base import JudgeInput
from accord.judges.pairwise import judge_both_orders
from accord.llm import fake
from tests.conftest import write_jsonl

INSTRUCTIONS = "Which answer to {{ inputs }} is better, {{ response_a }} or {{ response_b }}? A, B or tie."


def _pairs(n: int = 12) -> list[dict]:
    rows = []
    for i in range(n):
        good, bad = f"Use the returns form for order {i}.", f"I promise a refund for order {i}."
        first_is_good = i % 2 == 0
        rows.append(
            {
                "trace_id": f"p-{i}",
                "inputs": {"question": f"My order {i} broke"},
                "response_a": good if first_is_good else bad,
                "response_b": bad if first_is_good else good,
                "assessments": [
                    {
                        "name": "preference",
                        "value": "A" if first_is_good else "B",
                        "rationale": "the other one promises a refund",
                        "source": {"type": "HUMAN", "id": "ana"},
                    }
                ],
            }
        )
    return rows


def test_a_model_that_always_prefers_the_first_answer_gives_ties_under_order_control(tmp_path: Path) -> None:
    fake.script("first", lambda request: {"rationale": "the first one reads better", "result": "A"})
    import_traces(write_jsonl(tmp_path / "pairs.jsonl", _pairs()), "pairs")
    controlled = make_pairwise_judge("preference", INSTRUCTIONS, model="fake:/first")
    report = accord.evaluate_agreement(controlled, "pairs", show_progress=False)
    assert {v.value for v in report.verdicts} == {"tie"}
    assert report.agreement.extra["order_disagreement_rate"] == 1.0
    verdict = report.verdicts[0]
    assert verdict.metadata["orders"] == {"ab": "A", "ba": "B"} and verdict.metadata["order_disagreed"] is True
    assert "tie" in report.agreement.labels  # ties are a class of their own in agreement
    naive = make_pairwise_judge("preference", INSTRUCTIONS, model="fake:/first", order_control=False)
    assert {v.value for v in accord.evaluate_agreement(naive, "pairs", show_progress=False).verdicts} == {"A"}


def test_a_consistent_model_keeps_its_verdict_and_both_prompts_show_the_swap(tmp_path: Path) -> None:
    def prefers_the_returns_form(request) -> dict:  # type: ignore[no-untyped-def]
        user = request.messages[-1]["content"]
        a_part = user.split("<response_a>")[1].split("</response_a>")[0]
        return {"rationale": "follows the policy", "result": "A" if "returns form" in a_part else "B"}

    script = fake.script("fair", prefers_the_returns_form)
    judge = make_pairwise_judge("preference", INSTRUCTIONS, model="fake:/fair")
    verdict = judge(
        inputs="order broke", outputs={"response_a": "I promise a refund.", "response_b": "Use the returns form."}
    )
    assert verdict.value == "B" and verdict.metadata["order_disagreed"] is False
    assert "B/A order" in verdict.rationale and len(script.requests) == 2
    with pytest.raises(ValueError, match="two responses"):
        judge(inputs="q", outputs="just one answer")


def test_probabilities_of_the_two_orders_are_averaged() -> None:
    answers = iter(
        [
            Feedback(name="p", value="A", metadata={"verdict_probabilities": {"A": 0.6, "B": 0.3, "tie": 0.1}}),
            Feedback(name="p", value="A", metadata={"verdict_probabilities": {"A": 0.55, "B": 0.4, "tie": 0.05}}),
        ]
    )
    verdict = judge_both_orders(lambda given: next(answers), JudgeInput(outputs={"response_a": "x", "response_b": "y"}))
    # A/B order: P(A)=0.6; B/A order's "B" (0.4) is the first response: P(A) = (0.6 + 0.4) / 2 = 0.5
    assert verdict.value == "A" and verdict.metadata["verdict_probabilities"]["A"] == 0.5
    assert verdict.metadata["verdict_probabilities"]["B"] == pytest.approx(0.425)


def test_pairwise_judges_register_load_and_align(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="response_b"):
        make_pairwise_judge("p", "Is {{ response_a }} better for {{ inputs }}?")
    builtin = PairwisePreference(model="fake:")
    builtin.register()
    loaded = accord.get_judge("pairwise_preference")
    assert isinstance(loaded, PairwisePreference) and loaded.order_control is True

    def plays_both(request) -> dict:  # type: ignore[no-untyped-def]
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the other response promises a refund"}
        return {"rationale": "scripted", "result": "A"}

    fake.script("pairs", plays_both)
    import_traces(write_jsonl(tmp_path / "pairs.jsonl", _pairs(24)), "train")
    judge = make_pairwise_judge("preference", INSTRUCTIONS, model="fake:/pairs")
    traces = accord.search_traces(experiment_ids=[accord.get_experiment_by_name("train").experiment_id])
    aligned = judge.align(traces)
    assert aligned.selection["candidates"] and aligned.selection["chosen"]
    verdict = aligned(trace=traces[0])
    assert verdict.error is None and set(verdict.metadata["orders"]) == {"ab", "ba"}  # order-controlled too


def test_an_aligned_judges_decision_probabilities_win_over_the_models() -> None:
    answers = iter(
        [
            Feedback(
                name="p",
                value="B",
                metadata={
                    "verdict_probabilities": {"A": 0.9, "B": 0.1},
                    "decision_probabilities": {"A": 0.3, "B": 0.7},
                },
            ),
            Feedback(
                name="p",
                value="A",
                metadata={
                    "verdict_probabilities": {"A": 0.9, "B": 0.1},
                    "decision_probabilities": {"A": 0.6, "B": 0.4},
                },
            ),
        ]
    )
    verdict = judge_both_orders(lambda given: next(answers), JudgeInput(outputs={"response_a": "x", "response_b": "y"}))
    # the decision: A/B order says B 0.7; B/A order's A (0.6) is the second response: P(B) = 0.65
    assert verdict.value == "B" and verdict.metadata["decision_probabilities"]["B"] == pytest.approx(0.65)
