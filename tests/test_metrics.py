import pytest

from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.errors import AccordError
from accord.metrics import agreement, judge_agreement


def _trace(i: int, label: str, name: str = "quality") -> Trace:
    return Trace(trace_id=f"t{i}", assessments=[Feedback(name=name, value=label)])


def _verdict(i: int, value: str) -> Feedback:
    return Feedback(
        trace_id=f"t{i}",
        name="quality",
        value=value,
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE),
    )


def test_agreement_counts_accuracy_kappa_and_confusion() -> None:
    result = agreement(["yes", "yes", "no", "no"], ["yes", "no", "no", "no"])
    assert result.accuracy == 0.75 and result.labels == ["no", "yes"]
    assert result.confusion == [[2, 0], [1, 1]]
    assert result.cohen_kappa == pytest.approx(0.5)
    low, high = result.kappa_ci
    assert low <= result.cohen_kappa <= high


def test_judge_agreement_lists_disagreements_and_skips_errors() -> None:
    traces = [_trace(0, "yes"), _trace(1, "no"), _trace(2, "no")]
    verdicts = [_verdict(0, "yes"), _verdict(1, "yes"), Feedback(trace_id="t2", name="quality", error=None)]
    verdicts[2].error = None
    result, disagreements = judge_agreement(traces, verdicts[:2], "quality")
    assert result.n == 2 and result.extra["no_verdict"] == 1
    assert disagreements == [{"trace_id": "t1", "human": "no", "judge": "yes", "rationale": None}]


def test_judge_name_that_matches_no_feedback_names_what_exists() -> None:
    traces = [_trace(0, "yes", name="relevance"), _trace(1, "no", name="tone")]
    with pytest.raises(
        AccordError, match=r"HUMAN feedback named 'quality'; HUMAN feedback names found: relevance, tone"
    ):
        judge_agreement(traces, [_verdict(0, "yes")], "quality")
