import json
from typing import Literal

import pytest

from accord import Trace
from accord.config import reload_settings
from accord.entities import Span
from accord.errors import TemplateError
from accord.judges import judge_from_dict, make_judge
from accord.llm import fake


def test_unknown_or_missing_template_variables_fail_at_creation() -> None:
    with pytest.raises(TemplateError, match=r"unknown template variable \{\{ answer \}\}"):
        make_judge("q", "Is {{ answer }} good?")
    with pytest.raises(TemplateError, match="use no template variable"):
        make_judge("q", "Is it good?")
    with pytest.raises(TemplateError, match="non-empty"):
        make_judge("q", "  ")


def test_bad_value_type_and_name_fail_at_creation() -> None:
    with pytest.raises(ValueError, match="unsupported feedback_value_type"):
        make_judge("q", "{{ outputs }}", feedback_value_type=dict)
    with pytest.raises(ValueError, match="judge name"):
        make_judge("has space", "{{ outputs }}")


def test_call_with_values_returns_llm_judge_feedback() -> None:
    script = fake.script("q", [{"rationale": "matches the question", "result": "good"}])
    judge = make_judge(
        "product_quality",
        "Evaluate if {{ outputs }} is accurate and helpful for {{ inputs }}. Rate as: excellent, good, fair, or poor",
        model="fake:/q",
        feedback_value_type=Literal["excellent", "good", "fair", "poor"],
    )
    feedback = judge(inputs={"query": "tent"}, outputs="A 2-person tent.")
    assert (feedback.value, feedback.rationale, feedback.error) == ("good", "matches the question", None)
    assert feedback.source.source_type == "LLM_JUDGE" and feedback.source.source_id == "fake:/q"
    assert feedback.metadata["judge"] == "product_quality"
    request = script.requests[0]
    assert request.json_schema["properties"]["result"] == {"enum": ["excellent", "good", "fair", "poor"]}
    assert request.json_schema["properties"]["rationale"]["maxLength"] <= 400
    system, user = request.messages[0]["content"], request.messages[1]["content"]
    assert "<outputs>" in system and "A 2-person tent." not in system  # constant prefix, content after
    assert "A 2-person tent." in user and "query: tent" in user


@pytest.mark.parametrize(
    ("value_type", "answer", "expected"),
    [(bool, True, True), (bool, "yes", True), (int, 4, 4), (float, "2.5", 2.5), (str, "fine", "fine")],
)
def test_value_types_are_validated_and_coerced(value_type: type, answer: object, expected: object) -> None:
    fake.script("v", [{"rationale": "r", "result": answer}])
    judge = make_judge("v", "{{ outputs }}", model="fake:/v", feedback_value_type=value_type)
    assert judge(outputs="x").value == expected


def test_prompt_keeps_the_same_prefix_for_every_trace() -> None:
    script = fake.script("p")
    judge = make_judge("p", "Judge {{ outputs }}", model="fake:/p", feedback_value_type=bool)
    judge(outputs="one")
    judge(outputs="two")
    first, second = (r.messages for r in script.requests)
    assert first[0] == second[0] and first[1] != second[1]


def test_trace_judges_see_a_compact_span_tree() -> None:
    script = fake.script("t")
    root = Span(name="agent", span_type="AGENT", inputs={"q": "weather?"}, outputs="sunny", end_time_ms=None)
    tool = Span(name="weather_api", span_type="TOOL", parent_id=root.span_id, outputs={"temp": 21})
    trace = Trace(inputs={"q": "weather?"}, outputs="sunny", spans=[root, tool])
    judge = make_judge(
        "tools", "Did the agent use tools sensibly? {{ trace }}", model="fake:/t", feedback_value_type=bool
    )
    feedback = judge(trace=trace)
    assert feedback.trace_id == trace.trace_id
    user = script.requests[0].messages[1]["content"]
    assert "- agent [AGENT]" in user and "  - weather_api [TOOL]" in user and '{"temp": 21}' in user


def test_call_takes_inputs_outputs_expectations_from_the_trace() -> None:
    script = fake.script("c")
    trace = Trace(inputs="2+2?", outputs="4")
    judge = make_judge("c", "{{ inputs }} {{ outputs }} {{ expectations }}", model="fake:/c")
    judge(trace=trace, expectations={"expected_response": "4"})
    user = script.requests[0].messages[1]["content"]
    assert "2+2?" in user and "expected_response" in user


def test_missing_arguments_are_clear_errors() -> None:
    judge = make_judge("m", "{{ inputs }} {{ outputs }}", model="fake:")
    with pytest.raises(ValueError, match=r"pass inputs=\.\.\. or trace=\.\.\."):
        judge(outputs="x")


def test_judge_serializes_to_json_and_back_exactly() -> None:
    judge = make_judge(
        "tone",
        "Is {{ outputs }} polite?",
        model="openai:/gpt-4o-mini",
        feedback_value_type=Literal[1, 2, 3],
        description="politeness",
        inference_params={"temperature": 0.0, "max_tokens": 200},
    )
    again = judge_from_dict(json.loads(judge.to_json()))
    assert again == judge and again.to_dict() == judge.to_dict()
    assert again.value_type.categories == (1, 2, 3)


def test_default_model_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    fake.script("env", [{"rationale": "r", "result": "ok"}])
    monkeypatch.setenv("ACCORD_DEFAULT_MODEL", "fake:/env")
    reload_settings()
    feedback = make_judge("d", "{{ outputs }}")(outputs="x")
    assert feedback.source.source_id == "fake:/env" and feedback.value == "ok"
