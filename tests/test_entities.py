from accord.entities import AssessmentSource, AssessmentSourceType, Expectation, Feedback, Trace


def test_search_assessments_filters_by_name_type_and_source() -> None:
    human = Feedback(name="quality", value="yes", source=AssessmentSource(source_type=AssessmentSourceType.HUMAN))
    judge = Feedback(name="quality", value="no", source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE))
    expected = Expectation(name="expected_response", value="42")
    trace = Trace(assessments=[human, judge, expected])

    assert trace.search_assessments(type="feedback", source_type="HUMAN") == [human]
    assert trace.search_assessments(name="quality", source_type=AssessmentSourceType.LLM_JUDGE) == [judge]
    assert trace.search_assessments(type="expectation") == [expected]
    assert trace.expectations == {"expected_response": "42"}


def test_overridden_assessments_are_hidden_unless_asked_for() -> None:
    old = Feedback(name="quality", value="no", valid=False)
    trace = Trace(assessments=[old])
    assert trace.search_assessments() == []
    assert trace.search_assessments(all=True) == [old]


def test_entities_round_trip_through_json_with_schema_version() -> None:
    trace = Trace(inputs={"q": "hi"}, outputs="hello", assessments=[Feedback(name="f", value=True)])
    data = trace.model_dump_json()
    again = Trace.model_validate_json(data)
    assert again == trace
    assert again.schema_version == 1
    assert again.assessments[0].kind == "feedback"


def test_source_type_compares_to_plain_strings() -> None:
    source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ground_truth_dataset")
    assert source.source_type == "HUMAN"
