"""Pairwise judges: which of two responses to the same inputs is better, `A`, `B` or `tie`.

LLM judges prefer whichever answer is shown first. With order control (the default) each pair is judged
in both orders: when the verdicts come with probabilities (an aligned judge's decision, or the model's own)
the two orders are averaged; otherwise orders that disagree give a tie. Every verdict records both
orders (`metadata["orders"]`) and whether they disagreed (`metadata["order_disagreed"]`), and agreement
reports how often they did.

A pair is a trace whose outputs hold both responses: `{"response_a": ..., "response_b": ...}` (the traces
JSONL also takes top-level `response_a` / `response_b`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, Literal

from accord.entities import Feedback
from accord.errors import TemplateError
from accord.judges import rendering
from accord.judges.base import Judge, JudgeInput

PAIRWISE_VARIABLES = ("inputs", "response_a", "response_b", "expectations")
VERDICTS = ("A", "B", "tie")
_FLIP = {"A": "B", "B": "A", "tie": "tie"}
_PAIR_KEYS = (("response_a", "response_b"), ("a", "b"), ("response_1", "response_2"))


def pair_of(outputs: Any) -> tuple[Any, Any]:
    """The two responses of a pair trace's outputs; a clear error when the outputs are not a pair."""
    if isinstance(outputs, dict):
        for first, second in _PAIR_KEYS:
            if first in outputs and second in outputs:
                return outputs[first], outputs[second]
    if isinstance(outputs, (list, tuple)) and len(outputs) == 2:
        return outputs[0], outputs[1]
    raise ValueError(
        "a pairwise judge needs outputs with two responses: {'response_a': ..., 'response_b': ...} "
        f"(got {type(outputs).__name__})"
    )


def swapped(given: JudgeInput) -> JudgeInput:
    first, second = pair_of(given.outputs)
    return replace(given, outputs={"response_a": second, "response_b": first})


def flip(value: Any) -> Any:
    return _FLIP.get(value, value)


def judge_both_orders(judge_one: Callable[[JudgeInput], Feedback], given: JudgeInput) -> Feedback:
    """A verdict from both orders of the pair: probabilities averaged when reported, else a tie when the
    orders disagree. `judge_one` judges one order (a plain or an aligned judge's own verdict)."""
    first = judge_one(given)
    second = judge_one(swapped(given))
    if first.error is not None and second.error is not None:
        return first
    if first.error is not None or second.error is not None:
        kept, order = (second, "ba") if first.error is not None else (first, "ab")
        value = flip(kept.value) if order == "ba" else kept.value
        kept = kept.model_copy(update={"value": value})
        kept.metadata.update({"orders": {order: value}, "order_disagreed": None})
        return kept
    ab, ba = first.value, flip(second.value)
    # an aligned judge's own decision probabilities, else the model's verdict probabilities
    key = "decision_probabilities" if "decision_probabilities" in first.metadata else "verdict_probabilities"
    p1, p2 = first.metadata.get(key), second.metadata.get(key)
    if p1 and p2:
        averaged = {v: (p1.get(v, 0.0) + p2.get(_FLIP[v], 0.0)) / 2 for v in VERDICTS}
        value = max(averaged, key=averaged.__getitem__)
        first.metadata[key] = {k: round(p, 4) for k, p in averaged.items()}
    else:
        value = ab if ab == ba else "tie"
    rationale = f"A/B order: {first.rationale or ab} | B/A order, as A/B: {second.rationale or ba}"
    metadata = {**first.metadata, "orders": {"ab": ab, "ba": ba}, "order_disagreed": ab != ba}
    return first.model_copy(update={"value": value, "rationale": rationale, "metadata": metadata})


class PairwiseJudge(Judge):
    """A judge of pairs, from instructions using `{{ inputs }}`, `{{ response_a }}` and `{{ response_b }}`."""

    kind: ClassVar[str] = "pairwise"
    allowed_variables: ClassVar[tuple[str, ...]] = PAIRWISE_VARIABLES

    def __init__(
        self,
        name: str,
        instructions: str,
        model: str | None = None,
        order_control: bool = True,
        description: str | None = None,
        inference_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, instructions, model, Literal["A", "B", "tie"], description, inference_params)
        missing = [v for v in ("response_a", "response_b") if v not in self.variables]
        if missing:
            raise TemplateError(f"a pairwise judge's instructions must use {{{{ {missing[0]} }}}}")
        self.order_control = order_control

    def params(self) -> dict[str, Any]:
        return {"order_control": self.order_control}

    def to_dict(self) -> dict[str, Any]:
        spec = super().to_dict()
        spec.pop("feedback_value_type", None)  # always A, B or tie
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> PairwiseJudge:
        return cls(
            name=spec["name"],
            instructions=spec["instructions"],
            model=spec.get("model"),
            order_control=bool((spec.get("params") or {}).get("order_control", True)),
            description=spec.get("description"),
            inference_params=spec.get("inference_params"),
        )

    def section_text(self, variable: str, given: JudgeInput) -> str:
        if variable in ("response_a", "response_b"):
            first, second = pair_of(given.outputs)
            return rendering.render_value(first if variable == "response_a" else second)
        return super().section_text(variable, given)

    def gather(
        self, inputs: Any = None, outputs: Any = None, expectations: Any = None, trace: Any = None, session: Any = None
    ) -> JudgeInput:
        given = super().gather(inputs, outputs, expectations, trace, session)
        pair_of(given.outputs)  # not a pair: an error now, naming what a pair looks like
        return given

    def judge(self, given: JudgeInput) -> Feedback:
        if not self.order_control:
            return super().judge(given)
        return judge_both_orders(super().judge, given)


PAIRWISE_PREFERENCE = (
    "Compare two responses to the user's request in {{ inputs }}. Response A: {{ response_a }}. "
    "Response B: {{ response_b }}. Which response follows the request better: it does what was asked, is "
    "correct, helpful and harmless, and is not padded? Length and style alone do not make a response better. "
    "Answer 'A' if response A is better, 'B' if response B is better, or 'tie' if neither is better."
)


class PairwisePreference(PairwiseJudge):
    """The built-in pairwise judge: which response follows the request better."""

    def __init__(
        self,
        name: str | None = None,
        model: str | None = None,
        order_control: bool = True,
        inference_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name or "pairwise_preference",
            PAIRWISE_PREFERENCE,
            model,
            order_control,
            "Which of two responses follows the request better?",
            inference_params,
        )

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> PairwisePreference:
        return cls(
            name=spec.get("name"),
            model=spec.get("model"),
            order_control=bool((spec.get("params") or {}).get("order_control", True)),
            inference_params=spec.get("inference_params"),
        )


def make_pairwise_judge(
    name: str,
    instructions: str,
    model: str | None = None,
    order_control: bool = True,
    description: str | None = None,
    inference_params: dict[str, Any] | None = None,
) -> PairwiseJudge:
    """A pairwise judge from a template with `{{ inputs }}`, `{{ response_a }}`, `{{ response_b }}`; verdicts
    A, B or tie; each pair judged in both orders unless `order_control=False`."""
    return PairwiseJudge(name, instructions, model, order_control, description, inference_params)
