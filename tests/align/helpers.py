"""Labelled traces and a scripted model that plays both the judge and the reflection model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from accord.entities import AssessmentSource, AssessmentSourceType, Feedback, Trace
from accord.llm import fake
from accord.llm.types import ChatRequest, Completion

PROMISES = ["I have issued a full refund", "your replacement arrives Friday", "I added a 15% credit"]
PROCESS = ["please use the returns form", "the warranty team will confirm", "start a claim online"]


def labelled_traces(n: int = 20, name: str = "policy", prefix: str = "t") -> list[Trace]:
    """Half the answers promise an outcome (experts: "no"), half explain the process ("yes")."""
    traces = []
    for i in range(n):
        bad = i % 2 == 0
        answer = f"Thanks for writing. {(PROMISES if bad else PROCESS)[i % 3]} for order {i}."
        traces.append(
            Trace(
                trace_id=f"{prefix}{i}",
                inputs={"question": f"My order {i} arrived broken"},
                outputs=answer,
                assessments=[
                    Feedback(
                        name=name,
                        value="no" if bad else "yes",
                        rationale="Promises a refund, replacement or credit (rule 2)."
                        if bad
                        else "Explains the returns form or claim process.",
                        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert"),
                    )
                ],
            )
        )
    return traces


def play(
    rules: dict[str, str] | Callable[[ChatRequest], Any] | None = None,
    verdict: Callable[[ChatRequest], str] | None = None,
    name: str = "",
) -> fake.FakeScript:
    """`fake:/name` plays the reflection model (a rule per expert verdict: `rules[verdict]`, or any reply
    from a callable) and the judge (`verdict(request)`, default "yes")."""

    def reply(request: ChatRequest) -> Any:
        if "condition" in (request.json_schema or {}).get("properties", {}):
            if callable(rules):
                return rules(request)
            wanted = "no" if "verdict 'no'" in request.messages[0]["content"] else "yes"
            return {"condition": (rules or {}).get(wanted, "nothing else applies")}
        value = verdict(request) if verdict else "yes"
        return {"rationale": "scripted", "result": value}

    return fake.script(name, reply)


RULES = {
    "no": "the answer promises a refund, replacement or credit",
    "yes": "the answer explains the returns form or claim process",
}
SENTENCES = {verdict: f"verdict {verdict!r} when: {condition}" for verdict, condition in RULES.items()}


def says_no_when_promised(request: ChatRequest) -> str:
    """A judge that follows the learned rule when it is in its prompt, and says yes otherwise."""
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    case = user.rsplit("<outputs>", 1)[-1]
    learned = "promise" in system.lower() or "Expert verdict: 'no'" in user
    return "no" if learned and any(p in case for p in PROMISES) else "yes"


def dumps(obj: Any) -> str:
    return json.dumps(obj)


def leaning_model(name: str) -> fake.FakeScript:
    """A judge that always writes "yes" but whose probability of "no" is higher on promises (as the embedded
    model does on the hallucination set), and that writes whatever verdict it is forced to."""

    def reply(request):
        if "condition" in (request.json_schema or {}).get("properties", {}):
            return {"condition": "nothing else applies"}
        case = request.messages[-1]["content"].rsplit("Now judge this case.", 1)[-1]
        p_no = 0.3 if any(p in case for p in PROMISES) else 0.1
        value = request.forced_choice or "yes"
        probabilities = {"yes": 1 - p_no, "no": p_no} if request.verdict_choices else None
        text = json.dumps({"result": value, "rationale": f"written for {value}"})
        return Completion(text=text, choice_probabilities=probabilities)

    return fake.script(name, reply)
