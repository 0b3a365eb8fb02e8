import logging
from typing import Literal

import pytest

from accord.align.base import AlignmentError
from accord.align.labels import collect_labels
from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.judges.value_types import ValueType
from tests.align.helpers import labelled_traces

YES_NO = ValueType.of(Literal["yes", "no"])


def _vote(value: str, reviewer: str, at: int) -> Feedback:
    return Feedback(
        name="policy",
        value=value,
        create_time_ms=at,
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=reviewer),
    )


def test_misnamed_feedback_is_a_clear_error_listing_the_names_found() -> None:
    traces = labelled_traces(12, name="policy_ok")
    with pytest.raises(AlignmentError, match=r"no HUMAN feedback named 'policy'.*policy_ok \(12\)"):
        collect_labels("policy", YES_NO, traces)


def test_fewer_than_ten_usable_traces_says_how_many() -> None:
    with pytest.raises(AlignmentError, match="at least 10 .* found 7 among 7 traces"):
        collect_labels("policy", YES_NO, labelled_traces(7))


def test_only_human_feedback_counts() -> None:
    traces = labelled_traces(12)
    for t in traces:
        t.assessments.append(
            Feedback(name="policy", value="yes", source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE))
        )
    labels = collect_labels("policy", YES_NO, traces)
    assert [lbl.value for lbl in labels.labels] == ["no", "yes"] * 6
    assert all(lbl.judge_value == "yes" for lbl in labels.labels)


def test_several_reviewers_majority_then_newest_and_conflicts_reported() -> None:
    traces = labelled_traces(10)
    majority = Trace(trace_id="m", assessments=[_vote("no", "a", 1), _vote("no", "b", 2), _vote("yes", "c", 3)])
    tie = Trace(trace_id="tie", assessments=[_vote("no", "a", 1), _vote("yes", "b", 5)])
    changed_mind = Trace(trace_id="same", assessments=[_vote("no", "a", 1), _vote("yes", "a", 2)])
    agree = Trace(trace_id="agree", assessments=[_vote("yes", "a", 1), _vote("yes", "b", 2)])
    labels = collect_labels("policy", YES_NO, [*traces, majority, tie, changed_mind, agree])
    by_id = {lbl.trace.trace_id: lbl for lbl in labels.labels}
    assert by_id["m"].value == "no" and by_id["tie"].value == "yes" and by_id["same"].value == "yes"
    assert by_id["agree"].reviewers == ["a", "b"]
    assert sorted(c["trace_id"] for c in labels.conflicts) == ["m", "tie"]


def test_values_outside_the_judge_type_are_left_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    traces = labelled_traces(12)
    traces[0].assessments[0].value = "maybe"
    with caplog.at_level(logging.WARNING, logger="accord.align"):
        labels = collect_labels("policy", YES_NO, traces)
    assert len(labels.labels) == 11 and labels.rejected[0]["value"] == "maybe"
    assert "not valid" in caplog.text


def test_all_same_labels_warn(caplog: pytest.LogCaptureFixture) -> None:
    traces = labelled_traces(12)
    for t in traces:
        t.assessments[0].value = "yes"
    with caplog.at_level(logging.WARNING, logger="accord.align"):
        collect_labels("policy", YES_NO, traces)
    assert "every label for 'policy' is 'yes'" in caplog.text


def test_the_judges_own_earlier_verdict_is_its_own_not_an_aligned_versions() -> None:
    """Alignment compares its candidates with the judge it aligns: verdicts another version of the same name
    stored on the trace (the aligned judge that judged it later) are not that judge's."""

    def verdict(value: str, key: str, at: int) -> Feedback:
        return Feedback(
            name="policy",
            value=value,
            create_time_ms=at,
            metadata={"judge_key": key},
            source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="fake:"),
        )

    traces = labelled_traces(12)
    for trace in traces:
        trace.assessments += [verdict("yes", "policy@1", 10), verdict("no", "policy@2", 20)]
    labels = collect_labels("policy", YES_NO, traces, judge_key="policy@1").labels
    assert {label.judge_value for label in labels} == {"yes"}
    assert {label.judge_value for label in collect_labels("policy", YES_NO, traces).labels} == {"no"}  # the newest
    assert all(label.judge_value is None for label in collect_labels("policy", YES_NO, traces, judge_key="x@9").labels)
