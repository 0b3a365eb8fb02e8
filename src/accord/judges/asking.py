"""Asking a model for one verdict: the request sent, the answer parsed, once more on an unusable answer, and the
verdict's reason written again when a decision rule overrules the model's choice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from accord.entities import AssessmentError
from accord.errors import ModelError, ModelUnreachable, OutputParseError
from accord.judges.value_types import ValueType
from accord.judges.verdicts import parse_verdict
from accord.llm import ChatRequest, Model

log = logging.getLogger("accord.judges")


@dataclass
class Answer:
    """What the model answered for one verdict, or why there is no verdict (`error`)."""

    value: Any = None
    rationale: str = ""
    probabilities: dict[str, float] | None = None  # per verdict, when the model reports them
    metadata: dict[str, Any] = field(default_factory=dict)  # usage, salvaged, verdict_probabilities
    error: AssessmentError | None = None
    request: ChatRequest | None = None  # the request last sent (after a retry, the shorter one)


def ask_verdict(model: Model, request: ChatRequest, value_type: ValueType, judge_name: str) -> Answer:
    """The model's verdict for `request`. An unparseable answer is asked again once, shorter and with the
    failure spelled out; a model error ends at once. Never raises for a bad answer: `Answer.error` says why."""
    error: AssessmentError | None = None
    for attempt in range(2):
        try:
            completion = model.complete(request)
            parsed = parse_verdict(completion.text, value_type)
        except OutputParseError as exc:
            model.forget(request)  # never replay an unusable answer from the cache
            error = AssessmentError(error_code="UNPARSEABLE_OUTPUT", error_message=str(exc))
            log.info("judge %s: %s (attempt %d)", judge_name, exc, attempt + 1)
            request = _retry_request(request, exc)
            continue
        except ModelError as exc:
            code = "MODEL_UNREACHABLE" if isinstance(exc, ModelUnreachable) else "MODEL_ERROR"
            return Answer(error=AssessmentError(error_code=code, error_message=str(exc)), request=request)
        metadata: dict[str, Any] = {"usage": completion.usage.to_dict()}
        if parsed.salvaged:
            metadata["salvaged"] = True
        probabilities = completion.choice_probabilities or None
        if probabilities:
            metadata["verdict_probabilities"] = {k: round(p, 4) for k, p in probabilities.items()}
        return Answer(parsed.value, parsed.rationale, probabilities, metadata, request=request)
    return Answer(error=error, request=request)


def overrule(model: Model, answer: Answer, decided: Any, value_type: ValueType, judge_name: str) -> Answer:
    """The answer with the verdict a decision rule chose instead of the model's. The reason is written again
    with that verdict forced, so the reason given argues for the verdict given (empty when that fails)."""
    if decided == answer.value or answer.request is None:
        return answer
    metadata = {**answer.metadata, "decision": {"model_chose": answer.value, "decided": decided}}
    try:
        forced = model.complete(replace(answer.request, forced_choice=decided))
        reparsed = parse_verdict(forced.text, value_type)
    except (OutputParseError, ModelError) as exc:
        log.info("judge %s: re-writing the reason for %r failed: %s", judge_name, decided, exc)
        return replace(answer, value=decided, rationale="", metadata=metadata)
    rationale = reparsed.rationale if reparsed.value == decided else ""
    return replace(answer, value=decided, rationale=rationale, metadata=metadata)


def _retry_request(request: ChatRequest, exc: OutputParseError) -> ChatRequest:
    reminder = (
        f"\n\nYour previous answer could not be used ({str(exc).split(';')[0]}). Answer again with only the "
        "JSON object, a rationale of at most two sentences, then the result."
    )
    messages = [
        *request.messages[:-1],
        {**request.messages[-1], "content": request.messages[-1]["content"] + reminder},
    ]
    return replace(request, messages=messages, max_tokens=max(128, request.max_tokens // 2))
