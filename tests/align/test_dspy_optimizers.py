"""SIMBA and GEPA through DSPy, offline: the judge and the reflection model are scripted `fake:` models that
answer in the formats DSPy's adapters parse (ChatAdapter's `[[ ## field ## ]]` blocks, JSONAdapter's object)."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections import Counter
from typing import Any, Literal

import pytest

pytest.importorskip("dspy")

from accord.align import AlignmentError  # noqa: E402
from accord.align.dspy_optimizers import (  # noqa: E402
    GUIDANCE_HEADER,
    AccordLM,
    GEPAOptimizer,
    SIMBAOptimizer,
    _guidance,
    agreement_metric,
)
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace  # noqa: E402
from accord.judges import make_judge  # noqa: E402
from accord.judges.value_types import ValueType  # noqa: E402
from accord.llm import ChatRequest, fake  # noqa: E402

RULE = "LEARNED-RULE: a vague answer is never good."
SCALE = ("poor", "fair", "good", "excellent")


def traces(labels: list[Any], name: str = "quality") -> list[Trace]:
    return [
        Trace(
            trace_id=f"t-{i}",
            inputs={"question": f"question {i}"},
            outputs=f"answer {i}",
            assessments=[
                Feedback(
                    name=name,
                    value=label,
                    rationale=f"expert reason {i}",
                    source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert"),
                )
            ],
        )
        for i, label in enumerate(labels)
    ]


def script_student(truth: list[Any], wrong: Any) -> Counter[str]:
    """The judge under optimization: right when the learned rule is in its instructions; without it, right
    on every other call for the same prompt (alternating across traces), so its samples disagree and about half
    its verdicts are wrong: there is something to learn."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def reply(request: ChatRequest) -> str:
        system, query = request.messages[0]["content"], request.messages[-1]["content"]
        index = int(re.findall(r"question (\d+)", query)[-1])
        with lock:
            calls[query] += 1
            nth = calls[query]
        answer = truth[index] if RULE in system or (index + nth) % 2 else wrong(truth[index])
        return f"[[ ## result ## ]]\n{answer}\n\n[[ ## completed ## ]]"

    fake.script("student", reply)
    return calls


def script_coach() -> fake.FakeScript:
    def reply(request: ChatRequest) -> str:
        system = request.messages[0]["content"]
        if "new_instruction" in system:  # GEPA's proposer, through JSONAdapter
            return json.dumps({"new_instruction": f"Judge the answer in `outputs`. {RULE}"})
        if "module_advice" in system:  # SIMBA's OfferFeedback, through ChatAdapter
            return (
                "[[ ## discussion ## ]]\nThe worse run was too lenient.\n\n"
                f"[[ ## module_advice ## ]]\n{json.dumps({'self': RULE})}\n\n[[ ## completed ## ]]"
            )
        raise AssertionError(f"unexpected coach prompt: {system[:200]}")

    return fake.script("coach", reply)


def test_metric_partial_credit_on_ordinal_and_int_scales() -> None:
    ordinal = agreement_metric(ValueType.of(list(SCALE)))
    gold = {"result": "good"}
    assert ordinal(gold, {"result": "good"}) == 1.0
    assert ordinal(gold, {"result": "excellent"}) == pytest.approx(2 / 3)
    assert ordinal(gold, {"result": "poor"}) == pytest.approx(1 / 3)
    assert ordinal(gold, {"result": "GOOD "}) == 1.0
    assert ordinal(gold, {"result": "great"}) == 0.0
    assert ordinal(gold, None) == 0.0

    scores = agreement_metric(ValueType.of(int), label_values=[1, 3, 5])  # range 4
    assert scores({"result": 3}, {"result": 3}) == 1.0
    assert scores({"result": 3}, {"result": 4}) == pytest.approx(0.75)
    assert scores({"result": 1}, {"result": 5}) == 0.0
    assert scores({"result": 1}, {"result": 9}) == 0.0  # never below zero
    assert scores({"result": 3}, {"result": "three"}) == 0.0

    binary = agreement_metric(ValueType.of(bool), feedback=True)
    wrong = binary({"result": True, "rationale": "it cites the policy"}, {"result": False})
    assert wrong.score == 0.0 and "it cites the policy" in wrong.feedback
    assert binary({"result": True, "rationale": "x"}, {"result": "yes"}).score == 1.0


def test_simba_align_returns_a_new_judge_with_learned_guidance() -> None:
    truth = [i % 3 != 0 for i in range(12)]
    calls = script_student(truth, wrong=lambda v: not v)
    coach = script_coach()
    judge = make_judge(
        name="quality",
        instructions="Is {{ outputs }} a good answer to {{ inputs }}?",
        model="fake:/student",
        feedback_value_type=bool,
        inference_params={"max_tokens": 300},
    )
    before = judge.to_dict()
    optimizer = SIMBAOptimizer(model="fake:/coach", max_steps=2, num_candidates=3, bsize=6, num_threads=2)
    aligned = optimizer.align(judge, traces(truth))

    assert judge.to_dict() == before
    assert aligned is not judge and aligned.name == "quality"
    assert aligned.model == "fake:/student" and aligned.value_type == judge.value_type
    assert aligned.instructions.startswith(judge.instructions)
    assert "{{ outputs }}" in aligned.instructions and aligned.variables == ["outputs", "inputs"]
    assert GUIDANCE_HEADER in aligned.instructions and RULE in aligned.instructions
    assert sum(calls.values()) > 24 and coach.requests  # both models really ran
    assert {r.max_tokens for r in fake.get_script("student").requests} == {300}  # the judge's own settings
    assert aligned.inference_params == {"max_tokens": 300}
    assert optimizer.config()["optimizer"] == "simba" and optimizer.config()["bsize"] == 6


def test_gepa_align_rewrites_instructions_from_feedback() -> None:
    truth = [SCALE[i % 4] for i in range(12)]
    script_student(truth, wrong=lambda v: SCALE[(SCALE.index(v) + 1) % 4])
    coach = script_coach()
    judge = make_judge(
        name="rating",
        instructions="Rate the answer {{ outputs }} to {{ inputs }}.",
        model="fake:/student",
        feedback_value_type=Literal["poor", "fair", "good", "excellent"],
    )
    before = judge.to_dict()
    aligned = GEPAOptimizer(model="fake:/coach", max_metric_calls=40, num_threads=2).align(
        judge, traces(truth, name="rating")
    )

    assert judge.to_dict() == before
    assert aligned.name == "rating" and aligned.value_type.categories == SCALE
    assert "{{ outputs }}" in aligned.instructions and "{{ inputs }}" in aligned.instructions
    assert GUIDANCE_HEADER in aligned.instructions and RULE in aligned.instructions
    # the proposer saw the expert's reasons for the judge's mistakes
    assert any("expert reason" in m["content"] for r in coach.requests for m in r.messages)


def test_guidance_keeps_only_what_was_learned_and_clips_demos() -> None:
    import dspy

    seed = "Is `outputs` good?"
    demos = [dspy.Example(inputs=f"q{i}", outputs="x" * 1000, result=False) for i in range(6)]
    gold = {(f"q{i}", "x" * 1000): True for i in range(6)}
    text = _guidance(seed, seed + "\n\nPrefer {{ inputs }} over style.", demos, gold)
    assert text.startswith(GUIDANCE_HEADER) and seed not in text
    assert "Prefer inputs over style." in text and "{{" not in text
    assert text.count("expert verdict: true") == 4 and "q5" in text and "q1" not in text  # the last 4 demos
    assert "more characters cut" in text and "x" * 301 not in text
    assert _guidance(seed, seed, [], {}) == ""  # nothing learned: no section


def test_too_few_labels_raise() -> None:
    judge = make_judge(
        name="quality", instructions="Is {{ outputs }} good?", model="fake:/student", feedback_value_type=bool
    )
    with pytest.raises(AlignmentError, match="at least 10"):
        SIMBAOptimizer(model="fake:/coach").align(judge, traces([True] * 5))
    with pytest.raises(AlignmentError, match="at least 10"):
        GEPAOptimizer(model="fake:/coach").align(judge, traces([True] * 9))


def test_missing_dspy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dspy", None)  # makes `import dspy` raise ImportError
    judge = make_judge(name="quality", instructions="Is {{ outputs }} good?", feedback_value_type=bool)
    with pytest.raises(AlignmentError, match=r"accord\[dspy\]"):
        GEPAOptimizer().align(judge, traces([True] * 12))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_accord_lm_round_trips_through_the_fake_model() -> None:
    import dspy

    script = fake.script("echo", lambda r: f"[[ ## answer ## ]]\necho: {r.messages[-1]['content'][-40:]}")
    lm = AccordLM("fake:/echo", temperature=0.3, max_tokens=64)
    assert isinstance(lm, dspy.BaseLM) and lm.model == "fake:/echo"
    assert lm("ping") == ["[[ ## answer ## ]]\necho: ping"]
    assert script.requests[0].temperature == 0.3 and script.requests[0].max_tokens == 64
    with dspy.context(lm=lm):
        answer = dspy.Predict("question -> answer")(question="what is 6 x 7?").answer
    assert answer.startswith("echo:")
    sent = script.requests[-1].messages
    assert sent[0]["role"] == "system" and "what is 6 x 7?" in sent[-1]["content"]
    assert lm.history[-1]["usage"]["prompt_tokens"] > 0
