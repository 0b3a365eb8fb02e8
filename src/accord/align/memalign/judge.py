"""The judge MemAlign returns: the base judge plus guidelines (in the constant system prompt) and the most
similar expert-labelled examples (in the user message, before the case to judge)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from accord.align.checks import Check, FittedDecision, answer_choices, ask_case
from accord.align.memalign.calibration import DecisionRule
from accord.align.memalign.fitted_verdicts import judge_fitted
from accord.align.memalign.memory import EMBED_FIELDS, EpisodicMemory, Guideline, example_text, retrieved_cases
from accord.align.selective import abstain_if_unsure, verdict_confidence
from accord.entities import Feedback, Trace
from accord.errors import AccordError
from accord.judges.base import SPEC_VERSION, Judge, JudgeInput
from accord.judges.factory import judge_from_dict, register_judge_kind
from accord.judges.pairwise import PairwiseJudge, judge_both_orders
from accord.llm import get_model

log = logging.getLogger("accord.align.memalign")

# How the aligned judge gives verdicts: "prompt" (guidelines and retrieved examples in the prompt, as MemAlign
# in MLflow; every judge aligned before checks existed), "fitted" (checks asked one by one and a decision
# fitted to the experts) or "base" (alignment found nothing better: verdicts exactly as the base judge's).
MODES = ("prompt", "fitted", "base")


def render_guidelines(guidelines: Sequence[Guideline]) -> str:
    """Conditions grouped by the verdict they lead to: a checklist a small model can follow."""
    lines = ["What the domain experts check (this takes precedence over your own judgment):"]
    by_verdict: dict[str, list[Guideline]] = {}
    for g in guidelines:
        by_verdict.setdefault(repr(g.verdict), []).append(g)
    for key, group in by_verdict.items():
        if group[0].verdict is not None:
            lines.append(f"The verdict is {key} when the case shows any of:")
        else:
            lines.append("Also:")
        lines += [f"- {g.text}" for g in group]
    return "\n".join(lines)


class MemAlignJudge(Judge):
    kind: ClassVar[str] = "memalign"

    def __init__(
        self,
        base: Judge,
        guidelines: Sequence[Guideline],
        memory: EpisodicMemory,
        embedder: str,
        retrieval_k: int = 5,
        embed: str = "outputs",
        optimizer_config: dict[str, Any] | None = None,
        result_first: bool = False,
        decision: DecisionRule | None = None,
        mode: str = "prompt",
        checks: Sequence[Check] = (),
        fitted: FittedDecision | None = None,
        selection: dict[str, Any] | None = None,
        abstention: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(base, MemAlignJudge):
            raise ValueError("the base of an aligned judge must be an unaligned judge")
        self.base = base
        self.guideline_list = list(guidelines)
        self.memory = memory
        self.embedder = embedder
        self.retrieval_k = retrieval_k
        if embed not in EMBED_FIELDS:
            raise ValueError(f"embed must be one of {EMBED_FIELDS}, not {embed!r}")
        self.embed = embed
        self.optimizer_config = dict(optimizer_config or {})
        self.result_first = result_first  # verdict before reason (MemAlignOptimizer(result_first=True))
        self.decision = decision  # fitted from verdict probabilities (MemAlignOptimizer(calibrate=True))
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode == "fitted" and fitted is None:
            raise ValueError("a judge in 'fitted' mode needs its fitted decision")
        self.mode = mode
        self.checks = list(checks)
        self.fitted = fitted
        self.selection = dict(selection or {})  # the candidates compared when it was aligned, and the choice
        # in "base" mode: selective verdicts calibrated on the base judge's own probability for its verdict
        # (`accord.align.selective.Abstention.to_dict()`); a fitted decision carries its own
        self.base_abstention = dict(abstention) if abstention and mode == "base" else None
        if mode == "base":
            result_first = base.result_first
            self.result_first = result_first
        # the judge's identity is its base's: feedback names must keep matching
        self.name = base.name
        self.instructions = base.instructions
        self.variables = base.variables
        self.model = base.model
        self.value_type = base.value_type
        self.description = base.description
        self.inference_params = base.inference_params
        self.version: int | None = None
        self.registered_name: str | None = None

    # inspecting and editing -------------------------------------------------------------------------
    @property
    def guidelines(self) -> list[str]:
        return [g.sentence() for g in self.guideline_list]

    @property
    def stale(self) -> str | None:
        """Why the verdicts no longer follow the judge's memory (edited after alignment), or None."""
        if self.fitted is not None and self.fitted.stale:
            return str(self.fitted.extra.get("stale_reason") or "its checks were edited after fitting")
        return self.selection.get("stale")

    def _stale_after(self, what: str) -> dict[str, Any]:
        """Changes that mark the decision stale after an edit the verdicts do not follow: in "fitted" mode the
        decision was fitted on the memory as it was, in "base" mode the verdicts are the base judge's. Only
        the "prompt" judge reads its guidelines and examples at every verdict."""
        if self.mode == "prompt":
            return {}
        reason = f"{what} after alignment; the {self.mode} decision does not follow it until the judge is aligned again"
        log.warning("judge %s: %s", self.name, reason)
        if self.fitted is not None:
            data = self.fitted.to_dict()
            return {
                "fitted": FittedDecision.from_dict(
                    {**data, "stale": True, "extra": {**data["extra"], "stale_reason": reason}}
                )
            }
        return {"selection": {**self.selection, "stale": reason}}

    def _mark_stale(self, what: str) -> None:
        changes = self._stale_after(what)
        self.fitted = changes.get("fitted", self.fitted)
        self.selection = changes.get("selection", self.selection)

    def add_guideline(self, text: str) -> None:
        if not text.strip():
            raise ValueError("a guideline needs text")
        self.guideline_list.append(Guideline(text.strip(), sources=[]))
        self._mark_stale("a guideline was added")

    def remove_guideline(self, index_or_text: int | str) -> None:
        if isinstance(index_or_text, int):
            del self.guideline_list[index_or_text]
            self._mark_stale("a guideline was removed")
            return
        before = len(self.guideline_list)
        self.guideline_list = [g for g in self.guideline_list if index_or_text not in (g.text, g.sentence())]
        if len(self.guideline_list) == before:
            raise ValueError(f"no guideline {index_or_text!r}")
        self._mark_stale("a guideline was removed")

    def with_guideline_sentences(self, sentences: Sequence[str]) -> MemAlignJudge:
        """A copy whose guidelines are these sentences, as `guidelines` shows them (edited as text); a
        sentence left unchanged keeps its guideline's source trace ids."""
        known = {g.sentence(): g for g in self.guideline_list}
        kept = [known.get(s.strip()) or Guideline.from_sentence(s) for s in sentences if s.strip()]
        if [g.sentence() for g in kept] == self.guidelines:
            return self._copy(guidelines=kept)
        return self._copy(guidelines=kept, **self._stale_after("the guidelines were edited"))

    @property
    def learned_from(self) -> frozenset[str]:
        sources = {i for g in self.guideline_list for i in g.sources} | {i for c in self.checks for i in c.sources}
        return frozenset({e.trace_id for e in self.memory.examples} | sources)

    @property
    def examples(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.memory.examples]

    def unalign(self, traces: Sequence[Trace | str]) -> MemAlignJudge:
        """A new judge without these traces' examples, and without guidelines whose sources are all gone."""
        gone = {t if isinstance(t, str) else t.trace_id for t in traces}
        memory = self.memory.without(gone)
        kept = [g for g in self.guideline_list if not g.sources or set(g.sources) - gone]
        if len(memory) == len(self.memory):
            return self._copy(guidelines=kept, memory=memory)
        forgotten = len(self.memory) - len(memory)
        return self._copy(guidelines=kept, memory=memory, **self._stale_after(f"{forgotten} examples were forgotten"))

    def _copy(self, **changes: Any) -> MemAlignJudge:
        args = {
            "base": self.base,
            "guidelines": self.guideline_list,
            "memory": self.memory,
            "embedder": self.embedder,
            "retrieval_k": self.retrieval_k,
            "embed": self.embed,
            "optimizer_config": self.optimizer_config,
            "result_first": self.result_first,
            "decision": self.decision,
            "mode": self.mode,
            "checks": self.checks,
            "fitted": self.fitted,
            "selection": self.selection,
            "abstention": self.base_abstention,
            **changes,
        }
        return MemAlignJudge(**args)

    def with_check_questions(self, questions: Sequence[str]) -> MemAlignJudge:
        """A copy with these checks (edited as text; an unchanged question keeps its source trace ids). When
        they differ from the ones the decision was fitted on, the decision is marked stale until the judge
        is aligned again: a removed check counts as unanswered, a new one is not asked."""
        known = {c.question: c for c in self.checks}
        kept = [known.get(q.strip()) or Check(q.strip()) for q in questions if q.strip()]
        fitted = self.fitted
        if fitted is not None and [c.question for c in kept] != fitted.check_questions and fitted.check_questions:
            fitted = FittedDecision.from_dict({**fitted.to_dict(), "stale": True})
            log.warning("judge %s: checks edited; its fitted decision is stale until it is aligned again", self.name)
        return self._copy(checks=kept, fitted=fitted)

    # prompting -------------------------------------------------------------------------------------------
    def static_sections(self) -> dict[str, str]:
        return self.base.static_sections()

    def system_prompt(self) -> str:
        prompt = Judge.system_prompt(self)  # the base's instructions, this judge's answer order
        if not self.guideline_list:
            return prompt
        return f"{prompt}\n\n{render_guidelines(self.guideline_list)}"

    def retrieve(self, given: JudgeInput) -> list[tuple[Any, float]]:
        from accord.embeddings import get_embedder

        if not len(self.memory) or self.retrieval_k <= 0:
            return []
        text = example_text(given.inputs, given.outputs, given.expectations, self.embed)
        query = get_embedder(self.embedder).embed([text])[0]
        exclude = {given.trace.trace_id} if given.trace is not None else set()
        return self.memory.search(query, self.retrieval_k, exclude=exclude)

    def prepare(self, given: JudgeInput) -> list[tuple[Any, float]]:
        return self.retrieve(given)  # once per verdict: the prompt and the verdict's metadata share it

    def annotate(self, feedback: Feedback, prepared: Any) -> None:
        feedback.metadata["retrieved"] = retrieved_cases(prepared)

    def user_prompt(self, given: JudgeInput, prepared: Any = None) -> str:
        case = self.base.user_prompt(given)
        found = self.retrieve(given) if prepared is None else prepared
        if not found:
            return case
        shown = "\n\n".join(f"[Example {i}]\n{self.base.fenced(e.rendered)}" for i, (e, _) in enumerate(found, start=1))
        return f"Similar cases already judged by the experts:\n\n{shown}\n\nNow judge this case.\n\n{case}"

    def decide(self, value: Any, probabilities: dict[str, float] | None) -> Any:
        decided = self.decision.decide(probabilities) if self.decision is not None else None
        return value if decided is None else decided

    def verdict_probabilities(self, given: JudgeInput) -> dict[str, float] | None:
        """How likely each verdict is for this case, read where the answer names it (a few tokens, no
        reason); None when the judge does not answer verdict first or its model cannot tell."""
        if self.verdict_choices() is None:
            return None
        request = replace(self.build_request(given, prepared=self.retrieve(given)), max_tokens=16, probe_only=True)
        return get_model(self.model).complete(request).choice_probabilities

    def judge(self, given: JudgeInput) -> Feedback:
        if self.mode == "base":
            feedback = self.base.judge(given)
            feedback.metadata.update({"judge_key": self.key, "aligned_mode": "base"})
            if self.stale:
                feedback.metadata.update({"stale_decision": True, "stale_reason": self.stale})
            if self.version:
                feedback.metadata["judge_version"] = self.version
            if self.base_abstention and self.base_abstention.get("threshold") is not None and feedback.error is None:
                feedback.metadata["confidence"] = self._base_confidence(given, feedback.value)
            return abstain_if_unsure(feedback, self.abstention)
        if isinstance(self.base, PairwiseJudge) and self.base.order_control:
            # the aligned judge is order-controlled too; it abstains on the two orders' averaged confidence
            found = judge_both_orders(self._judge_one_order, given)
            decided = found.metadata.get("decision_probabilities")
            if found.error is None and decided and found.value in decided:
                found.metadata["confidence"] = decided[found.value]
            return abstain_if_unsure(found, self.abstention)
        return abstain_if_unsure(self._judge_one_order(given), self.abstention)

    @property
    def abstention(self) -> dict[str, Any] | None:
        """The selective-verdict threshold and what it guarantees (`align(..., target_agreement=...)`)."""
        return self.fitted.abstention if self.fitted is not None else self.base_abstention

    def _base_confidence(self, given: JudgeInput, value: Any) -> float:
        """The base judge's probability for the verdict it gave, read where it is asked its own task after the
        case: the measure its abstention threshold was calibrated on (0 when the model cannot tell)."""
        asked = ask_case(self.base, [], given, ask_judge=True).judge
        spelled = {repr(v): text for text, v in answer_choices(self.base) or []}
        return round(verdict_confidence(asked, spelled.get(repr(value), str(value))), 4)

    def _judge_one_order(self, given: JudgeInput) -> Feedback:
        if self.mode == "fitted":
            return judge_fitted(self, given)
        return super().judge(given)

    @property
    def fingerprint(self) -> str:
        """Cheap even with a large memory: the memory's digest stands for its contents."""
        parts = [self.base.fingerprint, self.memory.digest, self.embedder, str(self.retrieval_k), self.embed]
        if self.mode != "prompt":  # judges aligned before modes existed keep their fingerprint
            parts += [self.mode, json.dumps([c.to_dict() for c in self.checks], sort_keys=True, default=str)]
            parts += [json.dumps(self.fitted.to_dict(), sort_keys=True, default=str)] if self.fitted else []
        parts += ["result-first"] if self.result_first else []
        parts += [json.dumps(self.decision.to_dict(), sort_keys=True)] if self.decision else []
        parts += [g.sentence() for g in self.guideline_list]
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]

    # serialization -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "spec_version": SPEC_VERSION,
            "kind": self.kind,
            "name": self.name,
            "base": self.base.to_dict(),
            "guidelines": [g.to_dict() for g in self.guideline_list],
            "memory": self.memory.to_dict(),
            "embedder": self.embedder,
            "retrieval_k": self.retrieval_k,
            "embed": self.embed,
            "optimizer": self.optimizer_config,
            "result_first": self.result_first,
            "decision": self.decision.to_dict() if self.decision else None,
            "mode": self.mode,
            "checks": [c.to_dict() for c in self.checks],
            "fitted": self.fitted.to_dict() if self.fitted else None,
            "selection": self.selection,
            "abstention": self.base_abstention,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> MemAlignJudge:
        base = judge_from_dict(spec["base"])
        name = spec.get("name", base.name)
        checks = [Check.from_dict(c) for c in spec.get("checks") or []]
        fitted = None
        if spec.get("fitted"):
            try:
                fitted = FittedDecision.from_dict(spec["fitted"])
            except AccordError as exc:
                raise AccordError(f"aligned judge {name!r}: {exc}") from None
            if not fitted.stale and fitted.check_questions and fitted.check_questions != [c.question for c in checks]:
                raise AccordError(
                    f"aligned judge {name!r}: its decision weighs {len(fitted.check_questions)} checks that do not "
                    f"match its {len(checks)} stored checks; align it again"
                )
        judge = cls(
            base=base,
            guidelines=[Guideline(**g) for g in spec.get("guidelines", [])],
            memory=EpisodicMemory.from_dict(spec["memory"]),
            embedder=spec["embedder"],
            retrieval_k=int(spec.get("retrieval_k", 5)),
            embed=spec.get("embed", "outputs"),
            optimizer_config=spec.get("optimizer"),
            result_first=bool(spec.get("result_first", False)),  # specs written before it existed: reason first
            decision=DecisionRule.from_dict(spec["decision"]) if spec.get("decision") else None,
            mode=spec.get("mode", "prompt"),
            checks=checks,
            fitted=fitted,
            selection=spec.get("selection"),
            abstention=spec.get("abstention"),
        )
        judge.name = name
        return judge


register_judge_kind(MemAlignJudge.kind, MemAlignJudge.from_dict)
