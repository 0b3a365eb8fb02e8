import json

import pytest

import accord
from accord import Trace
from accord.entities import Span
from accord.judges import (
    BUILTIN_JUDGES,
    ConversationCompleteness,
    Guidelines,
    RelevanceToQuery,
    RetrievalGroundedness,
    UserFrustration,
    judge_from_dict,
)
from accord.llm import fake


def _instance(name: str):
    cls = BUILTIN_JUDGES[name]
    return cls(guidelines=["Be polite"]) if cls is Guidelines else cls()


@pytest.mark.parametrize("name", sorted(BUILTIN_JUDGES))
def test_every_builtin_has_a_snake_case_name_its_own_prompt_and_round_trips(name: str) -> None:
    judge = _instance(name)
    assert judge.name == judge.default_name and judge.name.islower()
    assert judge.value_type.categories == ("yes", "no")
    again = judge_from_dict(json.loads(judge.to_json()))
    assert type(again) is type(judge) and again.to_dict() == judge.to_dict()


def test_prompts_are_distinct() -> None:
    prompts = [cls.prompt for cls in BUILTIN_JUDGES.values()]
    assert len(set(prompts)) == len(prompts)


def test_name_override_is_the_feedback_name() -> None:
    fake.script("r", [{"rationale": "on topic", "result": "yes"}])
    judge = RelevanceToQuery(name="relevance_v2", model="fake:/r")
    assert judge(inputs="q", outputs="a").name == "relevance_v2"


def test_guidelines_are_fixed_in_the_system_prompt() -> None:
    script = fake.script("g")
    Guidelines(guidelines=["Never promise refunds", "Be brief"], model="fake:/g")(inputs="q", outputs="a")
    system = script.requests[0].messages[0]["content"]
    assert "- Never promise refunds\n- Be brief" in system
    with pytest.raises(ValueError):
        Guidelines(guidelines=[])


def test_retrieval_judges_read_retriever_spans() -> None:
    script = fake.script("rg")
    retriever = Span(name="search", span_type="RETRIEVER", outputs=[{"page_content": "Tents ship in 3 days."}])
    trace = Trace(inputs="when?", outputs="3 days", spans=[retriever])
    RetrievalGroundedness(model="fake:/rg")(trace=trace)
    assert "[1] Tents ship in 3 days." in script.requests[0].messages[1]["content"]
    with pytest.raises(ValueError, match="needs a trace with RETRIEVER spans"):
        RetrievalGroundedness(model="fake:/rg")(trace=Trace(inputs="q", outputs="a"))


def test_session_judges_see_every_turn_of_the_session() -> None:
    accord.set_experiment("chat")
    for turn in ("hi", "where is my order?", "still nothing??"):
        with accord.start_span("chat", session_id="s-7", inputs={"message": turn}) as span:
            span.set_outputs(f"reply to {turn}")
    last = accord.get_trace(accord.get_last_active_trace_id())
    script = fake.script("s")
    feedback = UserFrustration(model="fake:/s")(trace=last)
    conversation = script.requests[0].messages[1]["content"]
    assert "[turn 1] user" in conversation and "[turn 3] user" in conversation and "still nothing??" in conversation
    assert feedback.trace_id == last.trace_id
    assert ConversationCompleteness().is_session_level
