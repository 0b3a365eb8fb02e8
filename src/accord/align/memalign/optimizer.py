"""MemAlignOptimizer: align a judge by memory instead of by rewriting its prompt."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accord.align.base import AlignmentError, AlignmentOptimizer
from accord.align.checks import Check
from accord.align.checks.checklist import instruction_checks, policy_checks
from accord.align.labels import Label, collect_labels, label_type, verdicts_of
from accord.align.memalign.calibration import fit_decision_rule
from accord.align.memalign.deciders import BaseDecider, PromptDecider
from accord.align.memalign.distill import distill, merge_guidelines
from accord.align.memalign.fitting import DEFAULT_CANDIDATES, fit_checks_judge
from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import EpisodicMemory, Example, fingerprint, memory_text, render_example
from accord.embeddings import DEFAULT_EMBEDDER, get_embedder
from accord.entities import Trace
from accord.judges import Judge
from accord.judges.factory import with_value_type
from accord.progress import PROGRESS_CONSOLE

log = logging.getLogger("accord.align.memalign")


class MemAlignOptimizer(AlignmentOptimizer):
    """Semantic memory (distilled guidelines) + episodic memory (retrieved labelled examples).

    reflection_model: model URI that distills guidelines (default: the judge's model).
    embedding_model: "minilm" (default, int8 ONNX), "hash", or a litellm embedding model.
    retrieval_k: examples shown with each verdict. embed: what is embedded: "outputs", "inputs" or "both".
    distill_guidelines: False keeps only the episodic memory (no reflection calls at all).
    result_first: the aligned judge answers verdict first, then its reason (default: reason first, as the base).
    calibrate: for a two-verdict judge on a model that reports verdict probabilities (local models), score
    `calibration_size` training traces and fit a decision threshold that gives the rarer verdict about as
    often as the experts did (see memalign.calibration); implies result_first. Costs one short call per
    scored trace; models without probabilities keep their own verdicts.
    candidates: the aligned judges compared by cross-validation on the training feedback, the best kept:
    "base", "calibrated", "checks", "memory", "checks+memory" (the default set) and "prompt" (guidelines and
    examples in the prompt, as MemAlign in MLflow; it costs one aligned verdict per training trace to
    measure, so it is compared only when named). `candidates=["prompt"]` aligns as MemAlign always did.
    max_checks: at most this many checks are kept (the ones that best separate the training labels).
    grounding: the fitted decision may also weigh how much of the output is found in the inputs (word
    overlap, no model call; each measure kept only where it separates the training labels). False: never.
    cv_folds, cv_repeats: the cross-validation that compares the candidates.
    policy: a written policy or rubric (its text, or a file path): each of its rules becomes a check, asked
    like the distilled ones and weighed by the experts' labels (`accord.align.checks.checklist`).
    task_checklist: without a policy, the criteria the judge's instructions name become checks (one reflection
    call); a policy, when given, replaces them (the demo's four instruction checks never separated its labels).
    generalise: a distilled condition that names one case is rewritten as the rule behind it, or dropped.
    target_agreement, risk: selective verdicts; the aligned judge abstains below a confidence chosen on the
    cross-validation's out-of-fold predictions (no extra model call) so that, with probability at least
    1 - risk, its agreement with the experts on the verdicts it gives is at least target_agreement
    (`accord.align.selective`). Needs a fitted decision; align says when no threshold reaches the target.
    """

    def __init__(
        self,
        reflection_model: str | None = None,
        embedding_model: str | None = None,
        retrieval_k: int = 5,
        embed: str = "outputs",
        distill_guidelines: bool = True,
        max_guidelines: int = 12,
        batch_tokens: int = 1500,
        concurrency: int = 4,
        show_progress: bool = True,
        model: str | None = None,  # the reference workflow's spelling of reflection_model
        result_first: bool = False,
        calibrate: bool = False,
        calibration_size: int = 40,
        seed: int = 0,
        candidates: Sequence[str] | None = None,
        max_checks: int = 6,
        cv_folds: int = 5,
        cv_repeats: int = 5,
        grounding: bool = True,
        policy: str | Path | None = None,
        task_checklist: bool = True,
        generalise: bool = True,
        target_agreement: float | None = None,
        risk: float = 0.1,
    ) -> None:
        self.reflection_model = reflection_model or model
        self.embedding_model = embedding_model or DEFAULT_EMBEDDER
        self.retrieval_k = retrieval_k
        self.embed = embed
        self.distill_guidelines = distill_guidelines
        self.max_guidelines = max_guidelines
        self.batch_tokens = batch_tokens
        self.concurrency = concurrency
        self.show_progress = show_progress
        self.calibrate = calibrate
        self.calibration_size = calibration_size
        self.seed = seed
        self.result_first = result_first or calibrate  # the probability is read where the verdict is written
        if candidates is None:  # calibrate asks for the calibrated prompt judge (as before candidates existed)
            candidates = ("prompt",) if calibrate else DEFAULT_CANDIDATES
        self.candidates = tuple(candidates)
        unknown = set(self.candidates) - {*DEFAULT_CANDIDATES, "prompt"}
        if unknown or not self.candidates:
            raise ValueError(
                f"unknown candidates {sorted(unknown)}; choose from {', '.join((*DEFAULT_CANDIDATES, 'prompt'))}"
            )
        counts = (("max_checks", max_checks, 1), ("cv_folds", cv_folds, 2), ("cv_repeats", cv_repeats, 1))
        for name, value, least in counts:
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}")
        self.max_checks = max_checks
        self.cv_folds = cv_folds
        self.cv_repeats = cv_repeats
        self.grounding = grounding
        self.policy = policy
        self.task_checklist = task_checklist
        self.generalise = generalise
        if target_agreement is not None and not (0 < target_agreement < 1 and 0 < risk < 1):
            raise ValueError(f"target_agreement and risk must be between 0 and 1, not {target_agreement} and {risk}")
        self.target_agreement = target_agreement
        self.risk = risk
        self.last_run: dict[str, Any] = {}

    _policy_origin: str | None = None

    def config(self) -> dict[str, Any]:
        return {
            "optimizer": "memalign",
            "reflection_model": self.reflection_model,
            "embedding_model": self.embedding_model,
            "retrieval_k": self.retrieval_k,
            "embed": self.embed,
            "distill_guidelines": self.distill_guidelines,
            "max_guidelines": self.max_guidelines,
            "result_first": self.result_first,
            "calibrate": self.calibrate,
            "calibration_size": self.calibration_size,
            "candidates": list(self.candidates),
            "max_checks": self.max_checks,
            "grounding": self.grounding,
            "policy": self._policy_origin,
            "task_checklist": self.task_checklist,
            "generalise": self.generalise,
            "target_agreement": self.target_agreement,
            "risk": self.risk,
        }

    def align(self, judge: Judge, traces: Sequence[Trace]) -> Judge:
        started = time.perf_counter()
        previous = judge if isinstance(judge, MemAlignJudge) else None
        base = previous.base if previous else judge
        # a free-text judge whose experts log numbers or true / false, use the scale its instructions name, or two
        # labels: a decision is fitted to those verdicts (on a scale, borrowing between neighbours); kept, it
        # answers as given
        free_text: Judge | None = None
        if base.value_type.kind == "str" and (typed := label_type(traces, base.name)) is not None:
            log.info("judge %s: the experts' labels are of type %s", base.name, typed)
            free_text, base = base, with_value_type(base, typed)
        label_set = collect_labels(base.name, base.value_type, traces, judge_key=(free_text or base).key)
        if base.value_type.kind == "str" and (found := verdicts_of(base.instructions, label_set.values())):
            log.info("judge %s: the experts' labels are %s, %s", base.name, found[1], found[0])
            free_text, base = base, with_value_type(base, found[0])
        policy_checklist: list[Check] = []
        if self.policy is not None:  # a bad policy file fails before any model call
            policy_checklist, self._policy_origin = policy_checks(self.policy)
        known = previous.memory.by_id() if previous else {}
        if previous and previous.embedder != self.embedding_model:
            raise AlignmentError(
                f"this judge's memory was embedded with {previous.embedder!r}; align it again with "
                f"MemAlignOptimizer(embedding_model={previous.embedder!r}) or start from its base judge"
            )
        fresh, new_labels = [], []
        for label in label_set.labels:
            rendered = render_example(label.trace.inputs, label.trace.outputs, label.value, label.rationale)
            example = Example(
                label.trace.trace_id,
                label.value,
                label.rationale,
                rendered,
                fingerprint(label.value, label.rationale, rendered),
            )
            old = known.get(example.trace_id)
            if old is None or old.fingerprint != example.fingerprint:
                fresh.append((example, label))
                new_labels.append(label)
        log.info("%d labelled traces, %d new or changed", len(label_set.labels), len(fresh))
        embedder = get_embedder(self.embedding_model)
        progress = self._progress()
        with progress:
            try:
                texts = [memory_text(lbl.trace, self.embed) for _, lbl in fresh]
                task = progress.add_task("embedding examples", total=len(texts))
                vectors = embedder.embed(texts) if texts else None
                progress.update(task, completed=len(texts))
            except Exception as exc:  # any embedder failure: nothing half-made is returned
                raise AlignmentError(
                    f"embedding failed during alignment ({type(exc).__name__}: {exc}); the judge was not changed"
                ) from exc
            memory = previous.memory if previous else EpisodicMemory()
            if fresh and vectors is not None:
                memory = memory.with_examples([e for e, _ in fresh], vectors)
            guidelines = list(previous.guideline_list) if previous else []
            stats = None
            if self.distill_guidelines and new_labels:
                task = progress.add_task("distilling guidelines", total=None)
                proposed, stats = distill(
                    base,
                    new_labels,
                    self.reflection_model,
                    embedder,
                    self.batch_tokens,
                    self.max_guidelines,
                    self.concurrency,
                    on_batch_done=lambda: progress.advance(task),
                )
                progress.update(task, total=stats.batches)
                guidelines = merge_guidelines(guidelines + proposed, embedder, stats)
                if len(guidelines) > self.max_guidelines:  # keep the best supported ones
                    guidelines = sorted(guidelines, key=lambda g: -len(g.sources))[: self.max_guidelines]
        aligned = MemAlignJudge(
            base=base,
            guidelines=guidelines,
            memory=memory,
            embedder=self.embedding_model,
            retrieval_k=self.retrieval_k,
            embed=self.embed,
            optimizer_config=self.config(),
            decider=PromptDecider(result_first=self.result_first),
        )
        selection: dict[str, Any] | None = None
        if self.candidates != ("prompt",):
            with (progress := self._progress()):
                task_checks = list(policy_checklist)
                if self.task_checklist and not policy_checklist:  # a written policy says more than the task
                    task = progress.add_task("a checklist from the instructions", total=1)
                    task_checks += instruction_checks(base, self.reflection_model)
                    progress.advance(task)
                labels = label_set.labels
                if free_text is not None:
                    labels = judge_verdicts(free_text, labels, progress, self.concurrency)
                elif base.value_type.kind in ("int", "float"):  # no first token gives a number's probabilities
                    labels = judge_verdicts(base, labels, progress, self.concurrency)
                aligned, selection = fit_checks_judge(
                    aligned, labels, self, progress, task_checks, free_text=free_text is not None
                )
                if free_text is not None and isinstance(aligned.decider, BaseDecider):
                    # the base judge kept: its verdicts as given; an abstention threshold was calibrated on the
                    # re-typed copy's probability for them, so confidence is read the same way
                    abstention = aligned.decider.abstention
                    decider = BaseDecider(abstention, base.value_type if abstention else None)
                    aligned = aligned.with_changes(base=free_text, decider=decider)
        if self.calibrate and aligned.mode == "prompt":
            with (progress := self._progress()):
                size = min(self.calibration_size, len(label_set.labels))
                task = progress.add_task("calibrating the verdict", total=size)
                rule = fit_decision_rule(
                    aligned, label_set.labels, size, self.seed, on_scored=lambda: progress.advance(task)
                )
                aligned = aligned.with_changes(decider=PromptDecider(self.result_first, rule))
        for g in guidelines:
            log.debug("guideline: %s (from %d traces)", g.text, len(g.sources))
        self.last_run = {
            "labels": len(label_set.labels),
            "new_or_changed": len(fresh),
            "conflicts": label_set.conflicts,
            "rejected_labels": label_set.rejected,
            "distill_batches": stats.batches if stats else 0,
            "failed_batches": stats.failed_batches if stats else 0,
            "guidelines_proposed": stats.proposed if stats else 0,
            "guidelines_from_reasons": stats.fallbacks if stats else 0,
            "guidelines_dropped": stats.dropped if stats else [],
            "decision": aligned.decision.to_dict() if aligned.decision else None,
            "selection": selection,
            "seconds": round(time.perf_counter() - started, 2),
        }
        return aligned

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not self.show_progress,
            console=PROGRESS_CONSOLE,
        )


def judge_verdicts(judge: Judge, labels: Sequence[Label], progress: Progress, concurrency: int = 1) -> list[Label]:
    """Each label with the judge's own verdict (its stored one, else asked once: answers at temperature 0
    come from the response cache when the judge already ran on these traces), so the base judge the candidates
    must beat is the judge as the user has it: a free-text judge rather than its re-typed copy, a judge of
    numbers whose verdicts cannot be read from probabilities."""
    missing = [label for label in labels if label.judge_value is None]
    if not missing:
        return list(labels)
    task = progress.add_task("the judge as given, on the training traces", total=len(missing))

    def ask(label: Label) -> Any:
        try:
            verdict = judge.judge(judge.gather(trace=label.trace))
            return verdict.value if verdict.error is None else None
        finally:
            progress.advance(task)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="accord-verdicts") as pool:
        asked = dict(zip((label.trace.trace_id for label in missing), pool.map(ask, missing), strict=True))
    return [
        replace(label, judge_value=asked[label.trace.trace_id]) if label.judge_value is None else label
        for label in labels
    ]
