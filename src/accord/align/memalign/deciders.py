"""How an aligned judge gives a verdict: exactly one decider per aligned judge.

- `PromptDecider` ("prompt"): the guidelines and the most similar labelled examples go in the prompt, as MemAlign
  in MLflow does (every judge aligned before checks existed); a calibrated one moves the model's verdict by a
  threshold fitted to the experts.
- `FittedDecider` ("fitted"): the checks asked one by one after the case and a decision fitted to the experts.
- `BaseDecider` ("base"): alignment found nothing better, so the verdicts are the base judge's own; it may
  abstain on the base judge's probability for its verdict.
Each one reads what the judge learned (guidelines, examples, checks) from the aligned judge it decides for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from accord.align.checks import FittedDecision, answer_choices, ask_case
from accord.align.memalign.calibration import DecisionRule
from accord.align.memalign.fitted_verdicts import judge_fitted
from accord.align.memalign.memory import retrieved_cases
from accord.align.selective import verdict_confidence
from accord.entities import Feedback
from accord.judges.asking import ask_verdict, overrule
from accord.judges.base import JudgeInput
from accord.judges.factory import with_value_type
from accord.judges.value_types import ValueType
from accord.llm import get_model

if TYPE_CHECKING:
    from accord.align.memalign.judge import MemAlignJudge

MODES = ("prompt", "fitted", "base")


class Decider(Protocol):
    mode: ClassVar[str]

    def judge(self, aligned: MemAlignJudge, given: JudgeInput) -> Feedback:
        """One verdict (for a pair: in the order given)."""
        ...

    @property
    def abstention(self) -> dict[str, Any] | None:
        """The selective-verdict threshold and what it guarantees, when alignment was asked for one."""
        ...

    def spec(self) -> dict[str, Any]:
        """This decider's part of the aligned judge's stored spec (its mode and answer order aside)."""
        ...


class PromptDecider:
    mode: ClassVar[str] = "prompt"
    abstention: ClassVar[None] = None  # a prompt judge never abstains

    def __init__(self, result_first: bool = False, decision: DecisionRule | None = None) -> None:
        self.result_first = result_first  # verdict before reason (MemAlignOptimizer(result_first=True))
        self.decision = decision  # fitted from verdict probabilities (MemAlignOptimizer(calibrate=True))

    def judge(self, aligned: MemAlignJudge, given: JudgeInput) -> Feedback:
        model = get_model(aligned.model)
        found = aligned.retrieve(given)  # once per verdict: the prompt and the verdict's metadata share it
        request = aligned.request_for(aligned.prompt_with_examples(given, found))
        answer = ask_verdict(model, request, aligned.value_type, aligned.name)
        if answer.error is None and answer.probabilities and self.decision is not None:
            decided = self.decision.decide(answer.probabilities)  # unrounded: as the rule's threshold was fitted
            if decided is not None:
                answer = overrule(model, answer, decided, aligned.value_type, aligned.name)
        feedback = aligned.feedback_from(given, answer, model.uri)
        feedback.metadata["retrieved"] = retrieved_cases(found)
        return feedback

    def spec(self) -> dict[str, Any]:
        return {"decision": self.decision.to_dict() if self.decision else None, "fitted": None, "abstention": None}


class FittedDecider:
    mode: ClassVar[str] = "fitted"

    def __init__(self, fitted: FittedDecision, result_first: bool = False) -> None:
        self.fitted = fitted
        self.result_first = result_first  # the optimizer's setting, kept so the stored spec round-trips

    @property
    def abstention(self) -> dict[str, Any] | None:
        return self.fitted.abstention

    def judge(self, aligned: MemAlignJudge, given: JudgeInput) -> Feedback:
        return judge_fitted(aligned, given)

    def marked_stale(self, reason: str) -> FittedDecider:
        data = self.fitted.to_dict()
        stale = FittedDecision.from_dict({**data, "stale": True, "extra": {**data["extra"], "stale_reason": reason}})
        return FittedDecider(stale, self.result_first)

    def spec(self) -> dict[str, Any]:
        return {"decision": None, "fitted": self.fitted.to_dict(), "abstention": None}


class BaseDecider:
    mode: ClassVar[str] = "base"

    def __init__(self, abstention: dict[str, Any] | None = None, confidence_type: ValueType | None = None) -> None:
        # selective verdicts calibrated on the base judge's own probability for its verdict
        # (`accord.align.selective.Abstention.to_dict()`); for a free-text judge kept as given, that
        # probability is read with its verdicts typed as its experts' (`confidence_type`)
        self._abstention = dict(abstention) if abstention else None
        self.confidence_type = confidence_type

    @property
    def abstention(self) -> dict[str, Any] | None:
        return self._abstention

    def judge(self, aligned: MemAlignJudge, given: JudgeInput) -> Feedback:
        feedback = aligned.base.judge(given)
        feedback.metadata.update({"judge_key": aligned.key, "aligned_mode": "base"})
        if aligned.version:
            feedback.metadata["judge_version"] = aligned.version
        if self._abstention and self._abstention.get("threshold") is not None and feedback.error is None:
            feedback.metadata["confidence"] = base_confidence(aligned, given, feedback.value, self.confidence_type)
        return feedback

    def spec(self) -> dict[str, Any]:
        typed = {"confidence_type": self.confidence_type.to_dict()} if self.confidence_type else {}
        return {"decision": None, "fitted": None, "abstention": self._abstention, **typed}


def base_confidence(aligned: MemAlignJudge, given: JudgeInput, value: Any, as_type: ValueType | None = None) -> float:
    """The base judge's probability for the verdict it gave, read where it is asked its own task after the case:
    the measure its abstention threshold was calibrated on (0 when the model cannot tell, or when a free-text
    verdict names none of `as_type`'s)."""
    judge = with_value_type(aligned.base, as_type) if as_type else aligned.base
    if as_type:
        try:
            value = as_type.coerce(value)
        except ValueError:
            return 0.0
    asked = ask_case(judge, [], given, ask_judge=True).judge
    spelled = {repr(v): text for text, v in answer_choices(judge) or []}
    return round(verdict_confidence(asked, spelled.get(repr(value), str(value))), 4)


def decider_from_spec(spec: dict[str, Any], fitted: FittedDecision | None) -> Decider:
    """The decider a stored aligned judge names (specs written before modes existed: "prompt")."""
    mode = spec.get("mode", "prompt")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    result_first = bool(spec.get("result_first", False))  # specs written before it existed: reason first
    if mode == "fitted":
        if fitted is None:
            raise ValueError("a judge in 'fitted' mode needs its fitted decision")
        return FittedDecider(fitted, result_first)
    if mode == "base":
        typed = spec.get("confidence_type")
        return BaseDecider(spec.get("abstention"), ValueType.of(typed) if typed else None)
    decision = DecisionRule.from_dict(spec["decision"]) if spec.get("decision") else None
    return PromptDecider(result_first, decision)
