from typing import Literal

import pytest

from accord.config import reload_settings
from accord.errors import ModelTimeout, OutputParseError, RateLimited
from accord.judges import make_judge
from accord.judges.value_types import ValueType
from accord.judges.verdicts import parse_verdict
from accord.llm import fake

YES_NO = ValueType.of(Literal["yes", "no"])


def test_parse_accepts_fenced_json_and_normalizes_case() -> None:
    parsed = parse_verdict('```json\n{"rationale": "ok", "result": "Yes"}\n```', YES_NO)
    assert (parsed.value, parsed.rationale, parsed.salvaged) == ("yes", "ok", False)


def test_parse_salvages_a_verdict_cut_off_mid_rationale() -> None:
    parsed = parse_verdict('{"result": "no", "rationale": "the summary adds a date that the source never', YES_NO)
    assert parsed.value == "no" and parsed.salvaged and parsed.rationale.startswith("the summary")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I think it is fine.", "not JSON"),
        ('{"rationale": "r"}', "no 'result'"),
        ('{"result": "maybe"}', "wrong value type"),
    ],
)
def test_parse_errors_say_why(text: str, reason: str) -> None:
    with pytest.raises(OutputParseError, match=reason):
        parse_verdict(text, YES_NO)


def test_unparseable_answers_are_retried_once_then_become_an_errored_feedback() -> None:
    script = fake.script("bad", ["not json", "still not json"])
    judge = make_judge("j", "{{ outputs }}", model="fake:/bad", feedback_value_type=Literal["yes", "no"])
    feedback = judge(outputs="x")
    assert feedback.value is None
    assert feedback.error is not None and feedback.error.error_code == "UNPARSEABLE_OUTPUT"
    assert len(script.requests) == 2
    assert script.requests[1].max_tokens < script.requests[0].max_tokens
    assert "could not be used" in script.requests[1].messages[-1]["content"]


def test_second_try_can_rescue_the_verdict() -> None:
    fake.script("retry", ['{"result": "perhaps"}', {"rationale": "r", "result": "no"}])
    judge = make_judge("j", "{{ outputs }}", model="fake:/retry", feedback_value_type=Literal["yes", "no"])
    assert judge(outputs="x").value == "no"


def test_wrong_value_type_from_the_model_is_an_errored_feedback() -> None:
    fake.script("type", [{"rationale": "r", "result": "seven"}] * 2)
    feedback = make_judge("n", "{{ outputs }}", model="fake:/type", feedback_value_type=int)(outputs="x")
    assert "wrong value type for a int judge" in feedback.error.error_message


def test_timeouts_and_rate_limits_are_retried_by_the_model_handle() -> None:
    script = fake.script("flaky", [ModelTimeout(), RateLimited(retry_after=0.01), {"rationale": "r", "result": True}])
    assert make_judge("f", "{{ outputs }}", model="fake:/flaky", feedback_value_type=bool)(outputs="x").value is True
    assert len(script.requests) == 3


def test_persistent_model_failure_becomes_an_errored_feedback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_MAX_RETRIES", "2")
    reload_settings()
    fake.script("down", [ModelTimeout()] * 5)
    feedback = make_judge("f", "{{ outputs }}", model="fake:/down")(outputs="x")
    assert feedback.error.error_code == "MODEL_ERROR" and "did not answer in time" in feedback.error.error_message
