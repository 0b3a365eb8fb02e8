"""Selective verdicts: the judge abstains below a confidence chosen by fixed-sequence testing, so that its
agreement on the verdicts it gives is at least a target with probability at least 1 - risk."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import accord
from accord.align import MemAlignJudge
from accord.align.memalign.deciders import FittedDecider
from accord.align.selective import choose_abstention, fixed_sequence_threshold
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.llm import fake
from accord.llm.types import ChatRequest, Completion
from accord.metrics import is_abstention
from tests.align.helpers import PROMISES, RULES, labelled_traces
from tests.align.test_checks import _case, _judge, _optimizer, _question


def test_the_guarantee_holds_in_at_least_one_minus_risk_of_repeated_draws() -> None:
    """Confidence c ~ U(0.5, 1) and a verdict right with probability c: agreement on {c >= t} is (1 + t) / 2,
    so a threshold below 0.7 breaks a target of 0.85."""
    rng = np.random.default_rng(0)
    target, risk, draws = 0.85, 0.1, 400
    broken = chosen = 0
    coverages = []
    for _ in range(draws):
        confidence = rng.uniform(0.5, 1.0, 200)
        correct = rng.random(200) < confidence
        threshold, coverage, _ = fixed_sequence_threshold(correct, confidence, target, risk)
        if threshold is None:
            continue
        chosen += 1
        coverages.append(coverage)
        broken += (1 + threshold) / 2 < target
    assert chosen > draws * 0.75  # the target is reachable: a threshold is found in most draws
    assert broken / draws <= risk
    assert 0.3 < float(np.mean(coverages)) < 0.6  # the ideal is 0.6 (t = 0.7): not wastefully strict


def test_a_target_no_threshold_reaches_is_said_with_the_best_level_that_can_be_guaranteed() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 100)
    correct = rng.random(100) < 0.7  # right 70% of the time whatever the confidence
    found = choose_abstention(correct, confidence, 0.95, 0.1)
    assert not found.met and found.threshold is None
    assert found.best_guaranteed is not None and 0.5 < found.best_guaranteed < 0.75
    assert "no threshold guarantees 95% agreement" in found.describe()
    with pytest.raises(ValueError, match="between 0 and 1"):
        fixed_sequence_threshold(correct, confidence, 1.2, 0.1)


def _with_unclear_cases(n_clear: int = 40, n_unclear: int = 16) -> list[Trace]:
    """Clear promises and clear process answers, plus answers the checks cannot tell apart (labels alternate)."""
    traces = labelled_traces(n_clear)
    expert = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert")
    for i in range(n_unclear):
        value = "no" if i % 2 else "yes"
        traces.append(
            Trace(
                trace_id=f"u{i}",
                inputs={"question": f"unclear {i}"},
                outputs=f"We will look into order {i} [unclear].",
                assessments=[Feedback(name="policy", value=value, rationale="hard to say", source=expert)],
            )
        )
    return traces


def _unclear_model() -> fake.FakeScript:
    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            wanted = "no" if "verdict 'no'" in request.messages[0]["content"] else "yes"
            return {"condition": RULES[wanted]}
        case = _case(request)
        if "[unclear]" in case:
            p_yes = 0.5
        elif "promises" in _question(request):
            p_yes = 0.95 if any(p in case for p in PROMISES) else 0.05
        else:
            p_yes = 0.6
        return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})

    return fake.script("checks", reply)


def test_an_aligned_judge_abstains_where_it_cannot_keep_the_target_and_evaluate_reports_coverage() -> None:
    _unclear_model()
    aligned = _judge().align(_with_unclear_cases(), _optimizer(), target_agreement=0.8, risk=0.1)
    assert isinstance(aligned, MemAlignJudge) and aligned.fitted is not None
    abstention = aligned.selection["abstention"]
    assert abstention["threshold"] is not None and abstention["target"] == 0.8 and abstention["risk"] == 0.1
    assert 0.5 < abstention["coverage"] < 1 and abstention["agreement"] >= 0.8
    stored = MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert stored.fitted is not None and stored.fitted.abstain_below == aligned.fitted.abstain_below
    new = _with_unclear_cases(6, 4)
    for trace in new:
        trace.trace_id = "new-" + trace.trace_id
    verdicts = {v.trace_id: v for v in (aligned(trace=t) for t in new)}
    unclear = [v for k, v in verdicts.items() if k.startswith("new-u")]
    assert all(is_abstention(v) and v.value is None for v in unclear)
    assert all(v.metadata["confidence"] < v.metadata["abstain_below"] for v in unclear)
    assert unclear[0].rationale.startswith("abstained: confidence")
    clear = [v for k, v in verdicts.items() if k.startswith("new-t")]
    assert clear and not any(is_abstention(v) for v in clear)
    nearest = clear[0].metadata["retrieved"]  # the labelled cases an explanation can point at
    assert 1 <= len(nearest) <= 3 and {n["trace_id"] for n in nearest} <= {t.trace_id for t in _with_unclear_cases()}
    assert all(n["value"] in ("yes", "no") for n in nearest)
    report = accord.evaluate_agreement(aligned, new, log_verdicts=False, show_progress=False)
    assert report.agreement.n == len(clear) and report.agreement.accuracy == 1.0
    assert report.agreement.extra["abstained"] == 4 and report.agreement.extra["coverage"] == 0.6


def test_a_target_out_of_reach_is_said_and_the_judge_abstains_on_every_case() -> None:
    """The agreement asked for is kept by sending everything to the experts, never by answering below it."""
    _unclear_model()
    aligned = _judge().align(_with_unclear_cases(10, 30), _optimizer(), target_agreement=0.99, risk=0.05)
    abstention = aligned.selection["abstention"]
    assert abstention["threshold"] is None and "no threshold guarantees 99% agreement" in abstention["summary"]
    assert "abstains on every case" in abstention["summary"]
    for trace in _with_unclear_cases(2, 1):
        verdict = aligned(trace=trace)
        assert is_abstention(verdict) and verdict.value is None and verdict.metadata["would_have_said"] is not None
        assert verdict.rationale.startswith("abstained: no confidence level keeps agreement at 99%")


def test_monitoring_tracks_the_abstention_rate_and_can_alert_on_it() -> None:
    from accord.monitoring import Alert, rolling_figures

    _unclear_model()
    aligned = _judge().align(_with_unclear_cases(), _optimizer(), target_agreement=0.8, risk=0.1)
    new = _with_unclear_cases(6, 4)
    for trace in new:
        trace.trace_id = "live-" + trace.trace_id
        trace.assessments.append(aligned(trace=trace))
    figures = rolling_figures(aligned, new)
    assert figures["abstain_rate"] == 0.4 and figures["errors"] == 0.0
    assert figures["labelled"] == 6 and figures["accuracy"] == 1.0
    assert Alert.parse("abstain_rate>0.3").firing(figures) is True


def test_pairwise_and_categorical_judges_abstain_on_their_own_confidence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace as copy_with
    from typing import Literal

    from accord.importing import import_traces
    from accord.judges import make_judge, make_pairwise_judge
    from tests.align.test_transfer import _rated, _scale_model
    from tests.conftest import write_jsonl
    from tests.judges.test_pairwise import INSTRUCTIONS, _pairs

    def plays_both(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the other response promises a refund"}
        if request.messages[0]["content"].startswith("You answer one question"):
            case = _case(request)
            if "Question:" in request.messages[-1]["content"] and "promises" in _question(request):
                second = case.find("I promise") > case.find("<response_b>")  # the refund is in response B
                p_yes = 0.9 if second else 0.1
                return Completion(text='{"result": "yes"}', choice_probabilities={"yes": p_yes, "no": 1 - p_yes})
            return Completion(text='{"result": "A"}', choice_probabilities={"A": 0.7, "B": 0.2, "tie": 0.1})
        return {"rationale": "scripted", "result": "A"}

    fake.script("pairs", plays_both)
    import_traces(write_jsonl(tmp_path / "pairs.jsonl", _pairs(24)), "train")
    pair_traces = accord.search_traces(experiment_ids=[accord.get_experiment_by_name("train").experiment_id])
    pairwise = make_pairwise_judge("preference", INSTRUCTIONS, model="fake:/pairs")
    _scale_model()
    scale = make_judge(
        "quality",
        "Rate {{ outputs }}. Judge whether it is complete.",
        model="fake:/scale",
        feedback_value_type=Literal["excellent", "good", "fair", "poor"],
    )
    scale_traces = _rated(["excellent", "good", "fair", "poor"] * 6)
    for judge, traces in ((pairwise, pair_traces), (scale, scale_traces)):
        aligned = judge.align(traces, _optimizer(candidates=["base", "shrunk", "checks"]))
        assert aligned.mode == "fitted" and aligned.fitted is not None, aligned.selection["reason"]
        answered = aligned(trace=traces[0])
        assert not is_abstention(answered) and answered.metadata["confidence"] > 0
        strict = {
            "threshold": 1.01,
            "target": 0.9,
            "risk": 0.1,
            "calibration_cases": 24,
            "coverage": 0.0,
            "agreement": None,
        }
        unsure = aligned.with_changes(decider=FittedDecider(copy_with(aligned.fitted, abstention=strict)))
        abstained = unsure(trace=traces[0])
        assert is_abstention(abstained) and abstained.value is None
        assert abstained.metadata["would_have_said"] == answered.value


def test_a_kept_base_judge_abstains_on_its_own_confidence() -> None:
    """When nothing beats the base judge, selective verdicts calibrate its own probability for its verdict."""

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "the answer explains the claim process"}
        case = _case(request)
        p_yes = 0.55 if "[unclear]" in case else 0.05 if any(p in case for p in PROMISES) else 0.95
        verdict = "yes" if p_yes >= 0.5 else "no"
        return Completion(
            text=json.dumps({"rationale": "scripted", "result": verdict}),
            choice_probabilities={"yes": p_yes, "no": 1 - p_yes},
        )

    fake.script("checks", reply)
    aligned = _judge().align(_with_unclear_cases(), _optimizer(candidates=["base"]), target_agreement=0.8, risk=0.1)
    assert isinstance(aligned, MemAlignJudge) and aligned.mode == "base" and aligned.fitted is None
    abstention = aligned.selection["abstention"]
    assert abstention["threshold"] == pytest.approx(0.95) and abstention["agreement"] == 1.0
    stored = MemAlignJudge.from_dict(json.loads(json.dumps(aligned.to_dict())))
    assert stored.abstention == aligned.abstention and stored.mode == "base"
    new = _with_unclear_cases(4, 4)
    for trace in new:
        trace.trace_id = "new-" + trace.trace_id
    verdicts = {v.trace_id: v for v in (stored(trace=t) for t in new)}
    unclear = [v for k, v in verdicts.items() if k.startswith("new-u")]
    assert all(is_abstention(v) and v.metadata["would_have_said"] == "yes" for v in unclear)
    clear = [v for k, v in verdicts.items() if k.startswith("new-t")]
    assert all(not is_abstention(v) and v.metadata["confidence"] == 0.95 for v in clear)
    assert [v.value for v in clear] == [t.assessments[0].value for t in new if t.trace_id.startswith("new-t")]
    # without a target, the kept base judge answers every case as before
    plain = _judge().align(_with_unclear_cases(), _optimizer(candidates=["base"]))
    assert plain.abstention is None and not any(is_abstention(plain(trace=t)) for t in new)
