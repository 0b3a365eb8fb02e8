"""The judge MemAlign returns: the base judge plus guidelines (in the constant system prompt) and the most
similar expert-labelled examples (in the user message, before the case to judge)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from accord.align.memalign.calibration import DecisionRule
from accord.align.memalign.memory import EpisodicMemory, Guideline
from accord.entities import Feedback, Trace
from accord.judges.base import SPEC_VERSION, Judge, JudgeInput
from accord.judges.factory import judge_from_dict, register_judge_kind
from accord.judges.rendering import clip, render_value
from accord.llm import get_model

log = logging.getLogger("accord.align.memalign")

EMBED_FIELDS = ("outputs", "inputs", "both")


def example_text(inputs: Any, outputs: Any, expectations: Any, embed: str) -> str:
    """What gets embedded, for stored examples and for the case being judged alike."""
    out = render_value(outputs, 1200)
    inp = render_value(inputs, 1200)
    if embed == "outputs":
        return out
    if embed == "inputs":
        return inp
    return f"{out}\n{inp}"  # outputs first: the embedder truncates, and outputs carry most verdicts


def render_example(inputs: Any, outputs: Any, value: Any, rationale: str) -> str:
    """Compact: the lesson is in the output, the verdict and the reason, not in a whole source document."""
    reason = f" Reason: {clip(' '.join(rationale.split()), 200)}" if rationale else ""
    return (
        f"Input: {clip(' '.join(render_value(inputs).split()), 200)}\n"
        f"Output: {clip(' '.join(render_value(outputs).split()), 350)}\n"
        f"Expert verdict: {value!r}.{reason}"
    )


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


def fingerprint(value: Any, rationale: str, rendered: str) -> str:
    return hashlib.sha256(f"{value!r}\x00{rationale}\x00{rendered}".encode()).hexdigest()[:16]


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
        self.alignment_report: dict[str, Any] | None = None
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

    def add_guideline(self, text: str) -> None:
        if not text.strip():
            raise ValueError("a guideline needs text")
        self.guideline_list.append(Guideline(text.strip(), sources=[]))

    def remove_guideline(self, index_or_text: int | str) -> None:
        if isinstance(index_or_text, int):
            del self.guideline_list[index_or_text]
            return
        before = len(self.guideline_list)
        self.guideline_list = [g for g in self.guideline_list if index_or_text not in (g.text, g.sentence())]
        if len(self.guideline_list) == before:
            raise ValueError(f"no guideline {index_or_text!r}")

    def with_guideline_sentences(self, sentences: Sequence[str]) -> MemAlignJudge:
        """A copy whose guidelines are these sentences, as `guidelines` shows them (edited as text); a
        sentence left unchanged keeps its guideline's source trace ids."""
        known = {g.sentence(): g for g in self.guideline_list}
        kept = [known.get(s.strip()) or Guideline.from_sentence(s) for s in sentences if s.strip()]
        return self._copy(guidelines=kept)

    @property
    def examples(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.memory.examples]

    def unalign(self, traces: Sequence[Trace | str]) -> MemAlignJudge:
        """A new judge without these traces' examples, and without guidelines whose sources are all gone."""
        gone = {t if isinstance(t, str) else t.trace_id for t in traces}
        memory = self.memory.without(gone)
        kept = [g for g in self.guideline_list if not g.sources or set(g.sources) - gone]
        return self._copy(guidelines=kept, memory=memory)

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
            **changes,
        }
        return MemAlignJudge(**args)

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

    def user_prompt(self, given: JudgeInput) -> str:
        case = self.base.user_prompt(given)
        found = given.retrieved
        if found is None:
            found = self.retrieve(given)
        if not found:
            return case
        shown = "\n\n".join(f"[Example {i}]\n{e.rendered}" for i, (e, _) in enumerate(found, start=1))
        return f"Similar cases already judged by the experts:\n\n{shown}\n\nNow judge this case.\n\n{case}"

    def decide(self, value: Any, probabilities: dict[str, float] | None) -> Any:
        decided = self.decision.decide(probabilities) if self.decision is not None else None
        return value if decided is None else decided

    def verdict_probabilities(self, given: JudgeInput) -> dict[str, float] | None:
        """How likely each verdict is for this case, read where the answer names it (a few tokens, no
        reason); None when the judge does not answer verdict first or its model cannot tell."""
        if self.verdict_choices() is None:
            return None
        given.retrieved = self.retrieve(given)
        request = replace(self.build_request(given), max_tokens=16)
        return get_model(self.model).complete(request).choice_probabilities

    def judge(self, given: JudgeInput) -> Feedback:
        found = self.retrieve(given)
        given.retrieved = found
        feedback = super().judge(given)
        feedback.metadata["retrieved"] = [{"trace_id": e.trace_id, "similarity": round(s, 3)} for e, s in found]
        return feedback

    @property
    def fingerprint(self) -> str:
        """Cheap even with a large memory: the memory's digest stands for its contents."""
        parts = [self.base.fingerprint, self.memory.digest, self.embedder, str(self.retrieval_k), self.embed]
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
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> MemAlignJudge:
        base = judge_from_dict(spec["base"])
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
        )
        judge.name = spec.get("name", base.name)
        return judge


register_judge_kind(MemAlignJudge.kind, MemAlignJudge.from_dict)
