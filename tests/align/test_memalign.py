import json
import logging
from typing import Literal

import numpy as np
import pytest

import accord
from accord.align import AlignmentError, MemAlignJudge, MemAlignOptimizer
from accord.embeddings import others
from accord.entities import Trace
from accord.judges import Guidelines, judge_from_dict, make_judge
from accord.llm import fake
from tests.align.helpers import (
    PROMISES,
    RULES,
    SENTENCES,
    labelled_traces,
    leaning_model,
    play,
    says_no_when_promised,
)


def _judge(model: str = "fake:") -> accord.judges.Judge:
    return make_judge(
        "policy",
        "Decide whether the answer in {{ outputs }} to the customer message in {{ inputs }} follows the policy.",
        model=model,
        feedback_value_type=Literal["yes", "no"],
    )


def _optimizer(**kwargs) -> MemAlignOptimizer:
    return MemAlignOptimizer(embedding_model="hash", show_progress=False, **{"candidates": ["prompt"], **kwargs})


def test_align_returns_a_new_judge_with_guidelines_and_examples_and_leaves_the_input_alone() -> None:
    play(RULES)
    judge = _judge()
    before = judge.to_dict()
    aligned = judge.align(labelled_traces(20), MemAlignOptimizer(show_progress=False))  # MiniLM by default
    assert judge.to_dict() == before
    assert isinstance(aligned, MemAlignJudge) and aligned.name == "policy" and aligned.embedder == "minilm"
    assert len(aligned.memory) == 20
    assert sorted(aligned.guidelines) == sorted(SENTENCES.values())
    by_text = {g.text: set(g.sources) for g in aligned.guideline_list}
    assert {g.verdict for g in aligned.guideline_list} == {"yes", "no"}
    assert by_text[RULES["no"]] == {f"t{i}" for i in range(0, 20, 2)}


def test_rules_that_restate_the_task_or_copy_the_form_fall_back_to_the_experts_reason() -> None:
    task = "Decide whether the answer in outputs to the customer message in inputs follows the policy."
    play(lambda r: {"condition": task if "verdict 'no'" in r.messages[0]["content"] else "<thing> happens"})
    aligned = _judge().align(labelled_traces(12), MemAlignOptimizer(show_progress=False))
    assert sorted(aligned.guidelines) == [
        "verdict 'no' when: Promises a refund, replacement or credit (rule 2).",
        "verdict 'yes' when: Explains the returns form or claim process.",
    ]


def test_near_duplicate_guidelines_are_merged_by_embedding_similarity() -> None:
    from accord.align.memalign.distill import DistillStats, merge_guidelines
    from accord.align.memalign.memory import Guideline
    from accord.embeddings import get_embedder

    merged = merge_guidelines(
        [
            Guideline("the answer promises a refund or a credit to the customer", ["a"], "no"),
            Guideline("the answer promises a credit or a refund to the customer", ["b"], "no"),
            Guideline("the answer explains how to file a warranty claim", ["c"], "yes"),
        ],
        get_embedder(),
        DistillStats(),
    )
    assert [(g.text[:30], g.sources) for g in merged] == [
        ("the answer promises a refund o", ["a", "b"]),
        ("the answer explains how to fil", ["c"]),
    ]


def test_aligned_judge_prompt_has_guidelines_first_and_similar_examples_then_the_case() -> None:
    play(RULES, verdict=says_no_when_promised, name="a")
    aligned = _judge("fake:/a").align(labelled_traces(20), _optimizer(retrieval_k=3))
    script = fake.get_script("a")
    script.requests.clear()
    case = Trace(inputs={"question": "broken tent"}, outputs=f"Sorry! {PROMISES[0]} for order 99.")
    verdict = aligned(trace=case)
    system, user = script.requests[0].messages[0]["content"], script.requests[0].messages[1]["content"]
    assert "What the domain experts check" in system and RULES["no"] in system
    assert "The verdict is 'no' when the case shows any of:" in system
    assert user.index("Similar cases already judged") < user.index("<outputs>")
    assert user.count("[Example ") == 3 and "Expert verdict: 'no'" in user
    assert verdict.value == "no"
    assert [r["trace_id"] for r in verdict.metadata["retrieved"]][0] in {"t0", "t6", "t12", "t18"}
    other = aligned(inputs={"question": "x"}, outputs="please use the returns form")
    assert script.requests[-1].messages[0] == script.requests[0].messages[0]  # constant prefix for KV reuse
    assert other.value == "yes"


def test_verdict_first_is_an_option_and_specs_without_it_keep_reason_first() -> None:
    play(RULES, verdict=says_no_when_promised, name="order")
    base = _judge("fake:/order")
    aligned = base.align(labelled_traces(12), _optimizer(retrieval_k=2, result_first=True))
    script = fake.get_script("order")
    script.requests.clear()
    aligned(inputs={"question": "x"}, outputs="please use the returns form")
    request = script.requests[0]
    assert list(request.json_schema["properties"]) == ["result", "rationale"]
    system = request.messages[0]["content"]
    assert system.index('"result":') < system.index('"rationale":')
    base(inputs={"question": "x"}, outputs="y")  # the base judge still reasons first
    assert list(script.requests[-1].json_schema["properties"]) == ["rationale", "result"]
    spec = json.loads(json.dumps(aligned.to_dict()))
    assert judge_from_dict(spec).result_first is True and aligned.optimizer_config["result_first"] is True
    del spec["result_first"]  # a spec registered before the option existed is restored exactly
    old = judge_from_dict(spec)
    assert old.result_first is False and old.fingerprint != aligned.fingerprint
    assert base.align(labelled_traces(12), _optimizer()).result_first is False  # the default


def test_works_for_builtin_judges_too() -> None:
    play(RULES)
    traces = labelled_traces(12, name="guidelines")
    aligned = Guidelines(guidelines=["Never promise refunds"], model="fake:").align(traces, _optimizer())
    again = judge_from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert isinstance(again.base, Guidelines) and again.base.guidelines == ["Never promise refunds"]


def test_incremental_alignment_only_processes_new_or_changed_feedback(monkeypatch: pytest.MonkeyPatch) -> None:
    script = play(RULES)
    embedded: list[int] = []
    original = others.HashingEmbedder.embed
    monkeypatch.setattr(
        others.HashingEmbedder, "embed", lambda self, texts: embedded.append(len(texts)) or original(self, texts)
    )
    traces = labelled_traces(20)
    first = _judge().align(traces[:14], _optimizer())
    reflections = len(script.requests)
    embedded.clear()
    traces[0].assessments[0].rationale = "Promises a refund on the company's behalf."  # changed
    second = first.align(traces, _optimizer())
    assert len(second.memory) == 20
    assert embedded[0] == 7  # 6 new + 1 changed examples; the other 13 were not embedded again
    distilled = "\n".join(r.messages[-1]["content"] for r in script.requests[reflections:])
    # only the 6 new reasons and the 1 changed one are distilled (a reason said once may stay unclustered)
    assert distilled.count("\n- ") in (6, 7)
    assert second.memory.by_id()["t0"].rationale.startswith("Promises a refund on")


def test_unalign_forgets_examples_and_guidelines_whose_sources_are_gone() -> None:
    play(RULES)
    aligned = _judge().align(labelled_traces(20), _optimizer())
    aligned.add_guideline("Answers must not quote internal ticket numbers.")  # no sources: kept
    partly = aligned.unalign(["t0", "t1"])
    assert len(partly.memory) == 18 and "t0" not in partly.memory.ids()
    assert SENTENCES["no"] in partly.guidelines  # other sources of the rule remain
    forgotten = aligned.unalign([f"t{i}" for i in range(0, 20, 2)])
    assert SENTENCES["no"] not in forgotten.guidelines and SENTENCES["yes"] in forgotten.guidelines
    assert "Answers must not quote internal ticket numbers." in forgotten.guidelines
    assert len(aligned.memory) == 20  # unalign returns a new judge


def test_guidelines_are_editable_and_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    play(RULES)
    with caplog.at_level(logging.DEBUG, logger="accord.align.memalign"):
        aligned = _judge().align(labelled_traces(12), _optimizer())
    assert "guideline: the answer promises a refund" in caplog.text
    assert "rule from 6 reasons" in caplog.text
    aligned.remove_guideline(0)
    aligned.add_guideline("Ship dates are promises too.")
    assert aligned.guidelines[-1] == "Ship dates are promises too."
    with pytest.raises(ValueError):
        aligned.remove_guideline("not there")


def test_malformed_guidelines_fall_back_to_the_experts_reasons(caplog: pytest.LogCaptureFixture) -> None:
    script = play(lambda request: '{"rules": "be good"}')
    with caplog.at_level(logging.WARNING, logger="accord.align.memalign"):
        aligned = _judge().align(labelled_traces(12), _optimizer())
    assert len(aligned.memory) == 12
    assert "verdict 'no' when: Promises a refund, replacement or credit (rule 2)." in aligned.guidelines
    assert "reflection failed for a batch of 6 reasons (the answer has no condition)" in caplog.text
    assert len(script.requests) == 4  # each batch asked twice


def test_embedding_failure_mid_alignment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    play(RULES)

    def broken(self, texts):
        raise ConnectionError("embedding server went away")

    monkeypatch.setattr(others.HashingEmbedder, "embed", broken)
    judge = _judge()
    with pytest.raises(AlignmentError, match="embedding failed during alignment.*went away.*not changed"):
        judge.align(labelled_traces(12), _optimizer())


def test_too_little_feedback_is_a_clear_error() -> None:
    with pytest.raises(AlignmentError, match="found 5"):
        _judge().align(labelled_traces(5), _optimizer())


def test_retrieval_over_many_examples_returns_the_nearest() -> None:
    from accord.align.memalign.memory import EpisodicMemory, Example

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = EpisodicMemory([Example(f"e{i}", "yes", "", "", "") for i in range(5000)], vectors)
    found = memory.search(vectors[1234], 3, exclude={"e1234"})
    assert len(found) == 3 and found[0][0].trace_id != "e1234"
    exact = np.argsort(-(vectors @ vectors[1234]))[1:4]
    assert [e.trace_id for e, _ in found] == [f"e{i}" for i in exact]


def test_default_embedder_is_the_int8_minilm() -> None:
    from accord.embeddings import get_embedder

    vectors = get_embedder().embed(["I issued a refund", "A refund was issued to you", "Tents keep rain out"])
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_labels_without_rationales_teach_only_through_examples() -> None:
    script = play(RULES)
    traces = labelled_traces(12)
    for trace in traces:
        trace.assessments[0].rationale = None
    aligned = _judge().align(traces, _optimizer())
    assert aligned.guidelines == [] and len(aligned.memory) == 12
    assert script.requests == []  # no reflection call without reasons to distill


def test_calibration_fits_a_threshold_from_verdict_probabilities_and_overrules_a_leaning_model() -> None:
    script = leaning_model("leaning")
    base = _judge("fake:/leaning")
    optimizer = _optimizer(retrieval_k=2, calibrate=True, calibration_size=20)
    aligned = base.align(labelled_traces(20), optimizer)
    rule = aligned.decision
    assert aligned.result_first and rule is not None
    # experts said "no" half the time: the threshold splits the scored traces in half
    assert (rule.value, rule.other, rule.threshold, rule.rate, rule.fitted_on) == ("yes", "no", 0.8, 0.5, 20)
    assert optimizer.last_run["decision"] == rule.to_dict()
    calibration_calls = [r for r in script.requests if r.verdict_choices and r.max_tokens == 16]
    assert len(calibration_calls) == 20  # one short call per scored trace, no reason written

    script.requests.clear()
    promised = aligned(inputs={"question": "x"}, outputs=f"Sorry! {PROMISES[0]} for order 99.")
    assert promised.value == "no" and promised.rationale == "written for no"
    assert promised.metadata["decision"] == {"model_chose": "yes", "decided": "no"}
    assert promised.metadata["verdict_probabilities"] == {"yes": 0.7, "no": 0.3}
    assert [r.forced_choice for r in script.requests] == [None, "no"]  # the reason is re-written for "no"
    process = aligned(inputs={"question": "x"}, outputs="please use the returns form")
    assert process.value == "yes" and "decision" not in process.metadata

    spec = json.loads(json.dumps(aligned.to_dict()))
    again = judge_from_dict(spec)
    assert again.decision == rule and again.fingerprint == aligned.fingerprint
    del spec["decision"]  # a spec written before calibration existed: the model's own verdicts
    assert judge_from_dict(spec).decision is None and judge_from_dict(spec).fingerprint != aligned.fingerprint


def test_calibration_is_skipped_when_the_model_reports_no_probabilities(caplog) -> None:
    play(RULES, verdict=says_no_when_promised, name="plain")
    with caplog.at_level(logging.INFO, logger="accord.align.memalign"):
        aligned = _judge("fake:/plain").align(labelled_traces(12), _optimizer(calibrate=True))
    assert aligned.decision is None and aligned.result_first
    assert "reports no verdict probabilities" in caplog.text
    verdict = aligned(inputs={"question": "x"}, outputs=f"{PROMISES[1]}")
    assert verdict.value == "no" and "verdict_probabilities" not in verdict.metadata
