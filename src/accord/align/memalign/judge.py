"""The judge MemAlign returns: the base judge plus guidelines (in the constant system prompt) and the most
similar expert-labelled examples (in the user message, before the case to judge)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from accord.align.checks import Check, FittedDecision
from accord.align.memalign.calibration import DecisionRule
from accord.align.memalign.deciders import BaseDecider, Decider, FittedDecider, PromptDecider, decider_from_spec
from accord.align.memalign.memory import EMBED_FIELDS, EpisodicMemory, Guideline, example_text
from accord.align.selective import abstain_if_unsure
from accord.entities import Feedback, Trace
from accord.errors import AccordError
from accord.judges.base import SPEC_VERSION, Judge, JudgeInput
from accord.judges.factory import judge_from_dict, register_judge_kind
from accord.judges.pairwise import PairwiseJudge, judge_both_orders
from accord.judges.value_types import ValueType
from accord.llm import get_model

log = logging.getLogger("accord.align.memalign")


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
    """An aligned judge: its base judge, whose identity (name, instructions, model, verdict type) it passes
    through; what alignment learned (guidelines, the experts' labelled examples, checks); and the one decider
    that gives its verdicts (`deciders`: prompt memory, fitted checks, or the base judge's own verdicts)."""

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
        decider: Decider | None = None,
        checks: Sequence[Check] = (),
        selection: dict[str, Any] | None = None,
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
        self.decider: Decider = decider if decider is not None else PromptDecider()
        self.checks = list(checks)
        self.selection = dict(selection or {})  # the candidates compared when it was aligned, and the choice
        self.name = base.name  # feedback names must keep matching (a registry name may differ: registered_name)
        self.version: int | None = None
        self.registered_name: str | None = None

    # identity: the base judge's -------------------------------------------------------------------------
    @property
    def instructions(self) -> str:  # type: ignore[override]
        return self.base.instructions

    @property
    def variables(self) -> list[str]:  # type: ignore[override]
        return self.base.variables

    @property
    def model(self) -> str | None:  # type: ignore[override]
        return self.base.model

    @property
    def value_type(self) -> ValueType:  # type: ignore[override]
        return self.base.value_type

    @property
    def description(self) -> str | None:  # type: ignore[override]
        return self.base.description

    @property
    def inference_params(self) -> dict[str, Any]:  # type: ignore[override]
        return self.base.inference_params

    # the decider ----------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.decider.mode

    @property
    def result_first(self) -> bool:  # type: ignore[override]
        """The answer order of the prompt judge (a kept base judge answers in its own)."""
        return self.base.result_first if isinstance(self.decider, BaseDecider) else self.decider.result_first

    @property
    def decision(self) -> DecisionRule | None:
        return self.decider.decision if isinstance(self.decider, PromptDecider) else None

    @property
    def fitted(self) -> FittedDecision | None:
        return self.decider.fitted if isinstance(self.decider, FittedDecider) else None

    @property
    def abstention(self) -> dict[str, Any] | None:
        """The selective-verdict threshold and what it guarantees (`align(..., target_agreement=...)`)."""
        return self.decider.abstention

    @property
    def base_abstention(self) -> dict[str, Any] | None:
        return self.decider.abstention if isinstance(self.decider, BaseDecider) else None

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
        if isinstance(self.decider, FittedDecider):
            return {"decider": self.decider.marked_stale(reason)}
        return {"selection": {**self.selection, "stale": reason}}

    def _mark_stale(self, what: str) -> None:
        changes = self._stale_after(what)
        self.decider = changes.get("decider", self.decider)
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
            return self.with_changes(guidelines=kept)
        return self.with_changes(guidelines=kept, **self._stale_after("the guidelines were edited"))

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
            return self.with_changes(guidelines=kept, memory=memory)
        forgotten = len(self.memory) - len(memory)
        stale = self._stale_after(f"{forgotten} examples were forgotten")
        return self.with_changes(guidelines=kept, memory=memory, **stale)

    def with_changes(self, **changes: Any) -> MemAlignJudge:
        """A copy with some constructor arguments replaced (e.g. `decider=`, `checks=`, `selection=`)."""
        args = {
            "base": self.base,
            "guidelines": self.guideline_list,
            "memory": self.memory,
            "embedder": self.embedder,
            "retrieval_k": self.retrieval_k,
            "embed": self.embed,
            "optimizer_config": self.optimizer_config,
            "decider": self.decider,
            "checks": self.checks,
            "selection": self.selection,
            **changes,
        }
        return MemAlignJudge(**args)

    def with_check_questions(self, questions: Sequence[str]) -> MemAlignJudge:
        """A copy with these checks (edited as text; an unchanged question keeps its source trace ids). When
        they differ from the ones the decision was fitted on, the decision is marked stale until the judge
        is aligned again: a removed check counts as unanswered, a new one is not asked."""
        known = {c.question: c for c in self.checks}
        kept = [known.get(q.strip()) or Check(q.strip()) for q in questions if q.strip()]
        if [c.question for c in kept] == [c.question for c in self.checks]:
            return self.with_changes(checks=kept)
        fitted = self.fitted
        if fitted is not None and [c.question for c in kept] == fitted.check_questions:
            return self.with_changes(checks=kept)  # edited back to the checks the decision weighs
        return self.with_changes(checks=kept, **self._stale_after("the checks were edited"))

    # prompting (the prompt decider's) --------------------------------------------------------------------
    def static_sections(self) -> dict[str, str]:
        return self.base.static_sections()

    def system_prompt(self) -> str:
        prompt = Judge.system_prompt(self)  # the base's instructions, this judge's answer order
        if not self.guideline_list:
            return prompt
        return f"{prompt}\n\n{render_guidelines(self.guideline_list)}"

    def retrieve(self, given: JudgeInput) -> list[tuple[Any, float]]:
        """The labelled examples most similar to the case, with their similarity."""
        from accord.embeddings import get_embedder

        if not len(self.memory) or self.retrieval_k <= 0:
            return []
        text = example_text(given.inputs, given.outputs, given.expectations, self.embed)
        query = get_embedder(self.embedder).embed([text])[0]
        exclude = {given.trace.trace_id} if given.trace is not None else set()
        return self.memory.search(query, self.retrieval_k, exclude=exclude)

    def user_prompt(self, given: JudgeInput) -> str:
        return self.prompt_with_examples(given, self.retrieve(given))

    def prompt_with_examples(self, given: JudgeInput, found: Sequence[tuple[Any, float]]) -> str:
        case = self.base.user_prompt(given)
        if not found:
            return case
        shown = "\n\n".join(f"[Example {i}]\n{self.base.fenced(e.rendered)}" for i, (e, _) in enumerate(found, start=1))
        return f"Similar cases already judged by the experts:\n\n{shown}\n\nNow judge this case.\n\n{case}"

    def verdict_probabilities(self, given: JudgeInput) -> dict[str, float] | None:
        """How likely each verdict is for this case, read where the answer names it (a few tokens, no
        reason); None when the judge does not answer verdict first or its model cannot tell."""
        if self.verdict_choices() is None:
            return None
        request = replace(self.build_request(given), max_tokens=16, probe_only=True)
        return get_model(self.model).complete(request).choice_probabilities

    # judging ----------------------------------------------------------------------------------------------
    def judge(self, given: JudgeInput) -> Feedback:
        if isinstance(self.decider, BaseDecider):
            found = self.decider.judge(self, given)  # the base judge controls a pair's order itself
        elif isinstance(self.base, PairwiseJudge) and self.base.order_control:
            # the aligned judge is order-controlled too; it abstains on the two orders' averaged confidence
            found = judge_both_orders(lambda one: self.decider.judge(self, one), given)
            decided = found.metadata.get("decision_probabilities")
            if found.error is None and decided and found.value in decided:
                found.metadata["confidence"] = decided[found.value]
        else:
            found = self.decider.judge(self, given)
        if self.stale:
            found.metadata.update({"stale_decision": True, "stale_reason": self.stale})
        return abstain_if_unsure(found, self.abstention)

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
            "mode": self.mode,
            "checks": [c.to_dict() for c in self.checks],
            "selection": self.selection,
            **self.decider.spec(),
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
        try:
            decider = decider_from_spec(spec, fitted)
        except ValueError as exc:
            raise AccordError(f"aligned judge {name!r}: {exc}") from None
        judge = cls(
            base=base,
            guidelines=[Guideline(**g) for g in spec.get("guidelines", [])],
            memory=EpisodicMemory.from_dict(spec["memory"]),
            embedder=spec["embedder"],
            retrieval_k=int(spec.get("retrieval_k", 5)),
            embed=spec.get("embed", "outputs"),
            optimizer_config=spec.get("optimizer"),
            decider=decider,
            checks=checks,
            selection=spec.get("selection"),
        )
        judge.name = name
        return judge


register_judge_kind(MemAlignJudge.kind, MemAlignJudge.from_dict)
