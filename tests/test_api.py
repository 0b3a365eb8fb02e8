import pytest

import accord
from accord import AssessmentSource, AssessmentSourceType
from accord.errors import NotFoundError


def _trace() -> str:
    with accord.start_span("app", inputs={"q": "hi"}) as span:
        span.set_outputs("hello")
    return span.trace_id


def test_human_correction_overrides_the_judge_verdict_without_deleting_it() -> None:
    trace_id = _trace()
    verdict = accord.log_feedback(
        trace_id=trace_id,
        name="quality",
        value="yes",
        rationale="fine",
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="fake:"),
    )
    correction = accord.log_feedback(
        trace_id=trace_id,
        name="quality",
        value="no",
        rationale="wrong tone",
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert"),
    )
    trace = accord.get_trace(trace_id)
    assert correction.source.source_type == "HUMAN"
    assert correction.overrides == verdict.assessment_id
    everything = trace.search_assessments(all=True)
    assert [(a.value, a.valid) for a in everything] == [("yes", False), ("no", True)]
    assert [a.value for a in trace.search_assessments(name="quality")] == ["no"]


def test_feedback_without_a_source_is_code_and_never_a_label() -> None:
    """As MLflow records it: CODE from source id "default" (the reference logs the judge's own verdict so)."""
    trace_id = _trace()
    logged = accord.log_feedback(trace_id=trace_id, name="quality", value="yes", rationale="judge said so")
    assert (logged.source.source_type, logged.source.source_id) == ("CODE", "default")
    assert accord.get_trace(trace_id).search_assessments(name="quality", source_type="HUMAN") == []
    expectation = accord.log_expectation(trace_id=trace_id, name="expected_response", value="hello")
    assert expectation.source.source_type == "HUMAN"


def test_log_feedback_on_missing_trace_names_it() -> None:
    with pytest.raises(NotFoundError, match="no trace with id 'missing'"):
        accord.log_feedback(trace_id="missing", name="quality", value="yes")


def test_log_expectation_feeds_trace_expectations() -> None:
    trace_id = _trace()
    accord.log_expectation(trace_id=trace_id, name="expected_response", value="hello")
    assert accord.get_trace(trace_id).expectations == {"expected_response": "hello"}


def test_search_traces_filter_string() -> None:
    exp = accord.set_experiment("search")
    first, second = _trace(), _trace()
    accord.log_feedback(trace_id=first, name="quality", value="yes")
    found = accord.search_traces(experiment_ids=[exp.experiment_id], filter_string="assessments.name = 'quality'")
    assert [t.trace_id for t in found] == [first]
    assert [t.trace_id for t in accord.search_traces(order_by=["timestamp ASC"])] == [first, second]
    with pytest.raises(ValueError, match="cannot read filter term"):
        accord.search_traces(filter_string="quality is good")
