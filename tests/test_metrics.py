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


def test_per_class_and_binary_rates() -> None:
    result = agreement(["yes", "yes", "no", "no"], ["yes", "no", "no", "no"])
    assert result.per_class["yes"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert result.extra["positive_label"] == "yes"
    assert result.extra["true_positive_rate"] == 0.5 and result.extra["true_negative_rate"] == 1.0


def test_ordinal_scales_get_partial_credit() -> None:
    order = ["poor", "fair", "good", "excellent"]
    near = agreement(["good", "fair", "poor", "excellent"], ["excellent", "good", "fair", "excellent"], order=order)
    far = agreement(["good", "fair", "poor", "excellent"], ["poor", "excellent", "excellent", "excellent"], order=order)
    assert near.accuracy == far.accuracy == 0.25  # exact match cannot tell them apart
    assert near.extra["weighted_kappa"] > far.extra["weighted_kappa"]
    assert near.extra["mae"] == 0.75 and far.extra["mae"] == 1.75
    assert near.extra["spearman"] > 0.9 > far.extra["spearman"]


def test_numeric_scales() -> None:
    from accord.metrics import numeric_agreement

    result = agreement([1, 2, 3, 4, 5], [1, 2, 4, 4, 5], order=[1, 2, 3, 4, 5])
    assert result.extra["mae"] == 0.2 and result.extra["weighted_kappa"] > 0.9
    assert numeric_agreement([0.1, 0.5, 0.9], [0.2, 0.4, 1.0])["mae"] == pytest.approx(0.1)


def test_fleiss_kappa_matches_the_textbook_example() -> None:
    from accord.metrics import fleiss_kappa

    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    ratings = [[c for c, n in enumerate(row) for _ in range(n)] for row in counts]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.001)


def test_krippendorff_alpha_by_hand_and_with_missing_ratings() -> None:
    from accord.metrics import krippendorff_alpha

    assert krippendorff_alpha([["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"]]) == pytest.approx(1 - 14 / 30)
    assert krippendorff_alpha([["a", "a", None], ["b", "b", "b"], ["a"]]) == 1.0
    assert krippendorff_alpha([[1, 2], [3, 3], [4, 5]], level="interval") > krippendorff_alpha(
        [[1, 5], [3, 3], [4, 1]], level="interval"
    )


def test_reviewer_agreement_lists_disagreements() -> None:
    from accord.entities import AssessmentSource
    from accord.metrics import reviewer_agreement

    def vote(value: str, who: str) -> Feedback:
        return Feedback(name="quality", value=value, source=AssessmentSource(source_id=who))

    traces = [
        Trace(trace_id="a", assessments=[vote("yes", "ann"), vote("yes", "bob")]),
        Trace(trace_id="b", assessments=[vote("yes", "ann"), vote("no", "bob")]),
        Trace(trace_id="c", assessments=[vote("no", "ann"), vote("no", "bob")]),
    ]
    result = reviewer_agreement(traces, "quality")
    assert result["reviewers"] == ["ann", "bob"] and result["items_with_several_reviewers"] == 3
    assert result["disagreements"] == [{"trace_id": "b", "labels": {"ann": "yes", "bob": "no"}}]
    assert result["fleiss_kappa"] == pytest.approx(1 / 3, abs=0.01)


def test_kappa_is_undefined_when_every_label_and_verdict_is_the_same() -> None:
    import math

    from accord.metrics import agreement

    found = agreement(["yes"] * 6, ["yes"] * 6)
    assert found.accuracy == 1.0 and math.isnan(found.cohen_kappa) and not found.kappa_defined
    assert "undefined" in found.kappa_text() and "'yes'" in found.kappa_text()
    assert found.to_dict()["cohen_kappa"] is None and found.to_dict()["kappa_ci"] is None
    # one expert label but varied verdicts: kappa is defined (no better than chance)
    assert agreement(["yes"] * 6, ["yes"] * 5 + ["no"]).cohen_kappa == 0.0
    # resamples that hold one label only are left out of the interval, not counted as perfect agreement
    # (here every resample with any "no" in it disagrees on it, so the interval stays at or below 0)
    found = agreement(["yes"] * 9 + ["no"], ["yes"] * 8 + ["no", "yes"])
    assert found.cohen_kappa < 0 and found.kappa_ci[1] <= 0.0
