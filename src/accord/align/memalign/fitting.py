"""MemAlign's checks and fitted decision: from the distilled conditions to the judge that cross-validates best.

1. The checks: one per rule of the task (the judge's instructions and a written policy, `checklist.py`),
   then one per distilled condition (the minority verdict's first). A condition that names one case is
   rewritten as the rule behind it or dropped (`transfer.py`); an expert's reason is never asked as it is.
2. The base judge's model answers every check, and the judge's own task, for every training trace, once
   (with 60 or more traces, a check that separates too little on a screening sample is not asked further:
   `training_features.py`).
3. The candidates are cross-validated on those answers (no further model calls). Inside every fold the
   checks and grounding measures (how much of the output is found in the inputs; only when the inputs can
   hold it) are picked by how they separate that fold's training labels, so the figure counts the cost of
   picking them; a distilled check sits out a fold that holds many of the traces it was written from.
   Traces that share inputs stay in one fold, unless that leaves fewer groups than folds.
4. The best candidate is kept; the base judge's behaviour is kept when nothing beats it. With fewer than
   five examples of some verdict only the "shrunk" decision competes with the base judge.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.progress import Progress

from accord.align.checks import (
    CandidateScore,
    CaseFeatures,
    Check,
    choose,
    cross_validate,
    fit_decision,
    grounding,
)
from accord.align.checks.decision import class_index
from accord.align.checks.folds import cv_grouping
from accord.align.checks.selection import SignalPool, separation
from accord.align.checks.transfer import generalise, rule_from_reason, trace_text
from accord.align.labels import Label
from accord.align.memalign.deciders import BaseDecider, FittedDecider
from accord.align.memalign.distill import task_text
from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import Guideline, memory_text
from accord.align.memalign.training_features import training_features
from accord.align.selective import Abstention, choose_abstention
from accord.judges.value_types import ValueType
from accord.metrics import agreement

if TYPE_CHECKING:
    from accord.align.memalign.optimizer import MemAlignOptimizer

log = logging.getLogger("accord.align")

DEFAULT_CANDIDATES = ("base", "calibrated", "shrunk", "checks", "memory", "checks+memory")
MIN_SEPARATION = 0.2  # |2 * AUC - 1| below this: the check's answers do not separate the labels


def verdict_classes(judge: MemAlignJudge, values: Sequence[Any]) -> tuple[list[Any], bool] | None:
    """The verdicts in scale order and whether they are numbers (a regression); None for free text."""
    kind = judge.value_type.kind
    seen = {repr(v) for v in values}
    if kind == "categorical":
        return [c for c in judge.value_type.categories if repr(c) in seen], False
    if kind == "bool":
        return [c for c in (False, True) if repr(c) in seen], False
    if kind in ("int", "float"):
        return sorted({v for v in values}), True
    return None


def checks_from(
    guidelines: Sequence[Guideline],
    labels: Sequence[Label],
    task: str = "",
    model_uri: str | None = None,
) -> tuple[list[Check], list[dict[str, Any]]]:
    """One check per distilled condition, conditions for the rarer verdicts first (they carry most of the
    lesson). With `model_uri` (the reflection model), an expert's reason kept as it is, and a condition that
    names one case, are rewritten once as the rule behind them, or dropped; without it, reasons are dropped.
    Returns the checks and what was set aside or rewritten, and why."""
    counts = Counter(repr(label.value) for label in labels)
    ordered = sorted(
        guidelines, key=lambda g: counts.get(repr(g.verdict), math.inf) if g.verdict is not None else math.inf
    )
    texts = {label.trace.trace_id: trace_text(label.trace.inputs, label.trace.outputs) for label in labels}
    checks, report = [], []
    for g in ordered:
        text, why = g.text, ""
        if g.from_reason:
            found, why = rule_from_reason(g.text, task, model_uri) if model_uri is not None else (None, "")
            if found is None:
                why = why or "an expert's reason as written, not a rule"
                report.append({"condition": g.text, "kept": False, "why": why})
                continue
            text = found
        if model_uri is not None:
            sources = set(g.sources)
            found, general = generalise(
                text,
                task,
                model_uri,
                [t for i, t in texts.items() if i in sources],
                [t for i, t in texts.items() if i not in sources],
            )
            if found is None:
                report.append({"condition": g.text, "kept": False, "why": general})
                log.debug("dropped condition %r: %s", g.text, general)
                continue
            text, why = found, general or why
        if why:
            report.append({"condition": g.text, "kept": True, "why": why, "as": text})
        checks.append(Check.from_condition(text, g.sources, g.verdict))
    return checks, report


def _base_predictions(
    labels: Sequence[Label],
    classes: list[Any],
    features: CaseFeatures,
    value_type: ValueType,
    free_text: bool = False,
    regression: bool = False,
) -> tuple[np.ndarray | None, str]:
    """The base judge's verdicts on the training traces: stored ones when every trace has one, else its
    most likely verdict when asked its own task after the case. A free-text judge re-typed to its experts'
    scale is measured by its own verdicts as given, and a judge of numbers by its verdicts placed at the
    nearest label value; a verdict off the scale (or failed) counts as a miss by one step, as close as a wrong
    verdict can be."""
    stored = [label.judge_value for label in labels]
    known = {repr(c) for c in classes}
    if free_text or (regression and any(v is not None for v in stored)):
        y = class_index([label.value for label in labels], classes)
        values = np.array(classes, dtype=float) if regression else None

        def place(v: Any) -> int:  # a free-text judge's "4", "yes" or " Good" read as the verdict it names
            try:
                v = value_type.coerce(v)
            except (TypeError, ValueError):
                return -1
            if values is not None:
                return int(np.abs(values - float(v)).argmin())
            return int(class_index([v], classes)[0]) if repr(v) in known else -1

        given = [place(v) for v in stored]
        missed = np.array([i if i >= 0 else (t - 1 if t > 0 else t + 1) for i, t in zip(given, y, strict=True)])
        off = sum(1 for i in given if i < 0)
        what = "its own free-text verdicts" if free_text else "its own verdicts"
        return missed, what + (f" ({off} off the scale or failed, counted as misses)" if off else "")
    if all(v is not None and repr(v) in known for v in stored):
        return class_index(stored, classes), "its stored verdicts"
    if np.isnan(features.judge).all():
        return None, ""
    rows = np.where(np.isnan(features.judge), -1.0, features.judge)
    return rows.argmax(axis=1), "its verdicts asked after the case"


def _base_abstention(
    features: CaseFeatures, base_predictions: np.ndarray | None, y: np.ndarray, optimizer: MemAlignOptimizer
) -> Abstention | None:
    """Selective verdicts for a kept base judge: its confidence is its own probability for the verdict it
    gives, asked after the case. Nothing was fitted to these labels, so they calibrate it directly; None when
    the model gave no probabilities."""
    if base_predictions is None or np.isnan(features.judge).all():
        return None
    rows = np.nan_to_num(features.judge, nan=0.0)
    totals = rows.sum(axis=1)
    picked = rows[np.arange(len(rows)), base_predictions]
    confidence = np.divide(picked, totals, out=np.zeros_like(picked), where=totals > 0)
    assert optimizer.target_agreement is not None
    return choose_abstention(base_predictions == y, confidence, optimizer.target_agreement, optimizer.risk)


def _prompt_score(
    judge: MemAlignJudge, labels: Sequence[Label], classes: list[Any], progress: Progress
) -> CandidateScore:
    """The prompt judge on the training traces (each one's own example left out of retrieval); its
    guidelines were distilled from these traces, so this favours it."""
    task = progress.add_task("measuring the prompt judge", total=len(labels))
    human, given = [], []
    for label in labels:
        verdict = judge.judge(judge.gather(trace=label.trace))
        progress.advance(task)
        if verdict.error is None and repr(verdict.value) in {repr(c) for c in classes}:
            human.append(label.value)
            given.append(verdict.value)
    if not given:
        return CandidateScore("prompt", None, None, None, "no usable verdict on the training traces")
    found = agreement(human, given, order=None)
    return CandidateScore(
        "prompt", found.cohen_kappa, found.kappa_ci, found.accuracy, "in-sample: its guidelines saw these traces"
    )


def fit_checks_judge(
    aligned: MemAlignJudge,
    labels: Sequence[Label],
    optimizer: MemAlignOptimizer,
    progress: Progress,
    task_checks: Sequence[Check] = (),
    free_text: bool = False,
) -> tuple[MemAlignJudge, dict[str, Any]]:
    """The candidate that cross-validates best, as an aligned judge, and the report of the comparison.
    `task_checks`: checks from the judge's instructions and policy, asked before the distilled ones.
    `free_text`: the aligned judge's base was re-typed to its experts' scale, and each label's `judge_value` is
    the judge's verdict as given (what the candidates must beat)."""
    started = time.perf_counter()
    found = verdict_classes(aligned, [label.value for label in labels])
    if found is None:
        reason = f"a {aligned.value_type} judge has no verdicts to fit a decision to: MemAlign's prompt judge is kept"
        log.info(reason)
        selection = {"chosen": "prompt", "reason": reason, "candidates": []}
        return aligned.with_changes(selection=selection), selection
    classes, regression = found
    if len(classes) < 2:
        reason = (
            f"every training label is {classes[0]!r}: no decision can be checked against a second verdict, so the "
            "aligned judge behaves as the base judge"
        )
        log.warning(reason)
        selection = {"chosen": "base", "reason": reason, "candidates": []}
        return aligned.with_changes(decider=BaseDecider(), selection=selection), selection
    y = class_index([label.value for label in labels], classes)
    distilled, conditions = checks_from(
        aligned.guideline_list,
        labels,
        task_text(aligned.base),
        (optimizer.reflection_model or aligned.base.model) if optimizer.generalise else None,
    )
    checks = list(task_checks) + distilled
    features, asking_seconds, screened = training_features(
        aligned, checks, labels, classes, optimizer.concurrency, progress, y, regression, optimizer.max_checks
    )
    for j in screened:  # a screened-out check was not asked of every trace: it is never picked
        features.checks[:, j] = np.nan
    groups, grouping = cv_grouping(features.groups, optimizer.cv_folds)
    features = replace(features, groups=groups)
    questions = [c.question for c in checks]
    not_grounded = grounding.why_not_grounded((label.trace.inputs, label.trace.outputs) for label in labels)
    row_of = {label.trace.trace_id: i for i, label in enumerate(labels)}
    pool = SignalPool(
        questions,
        list(grounding.KEYS) if optimizer.grounding and not not_grounded else [],
        MIN_SEPARATION,
        optimizer.max_checks,
        regression,
        [frozenset(row_of[t] for t in c.sources if t in row_of) for c in checks],
    )
    base_predictions, base_source = _base_predictions(
        labels, classes, features, aligned.value_type, free_text, regression
    )
    ordinal = regression or len(classes) > 2 and aligned.value_type.kind != "bool"
    scores, picked_share = cross_validate(
        features,
        y,
        classes,
        base_predictions,
        pool,
        [c for c in optimizer.candidates if c != "prompt"],
        regression=regression,
        ordinal=ordinal,
        folds=optimizer.cv_folds,
        repeats=optimizer.cv_repeats,
        seed=optimizer.seed,
    )
    if base_source:
        for score in scores:
            if score.name == "base":
                score.note = f"from {base_source}"
    if "prompt" in optimizer.candidates:
        scores.append(_prompt_score(aligned, labels, classes, progress))
    chosen, reason = choose(scores, y, classes, ordinal)
    log.info("alignment chose %s: %s", chosen, reason)
    kept, signals = pool.select(features, y)
    report_checks = _check_report(checks, labels, features, y, regression, kept, screened, picked_share)
    report_grounding = _grounding_report(features, y, regression, signals, not_grounded) if optimizer.grounding else []
    selection = {
        "candidates": [s.to_dict() for s in scores],
        "chosen": chosen,
        "reason": reason,
        "checks": report_checks,
        "conditions": conditions,
        "grounding": report_grounding,
        "metric": "weighted kappa" if ordinal else "Cohen's kappa",
        "cv": {
            "folds": optimizer.cv_folds,
            "repeats": optimizer.cv_repeats,
            "traces": len(labels),
            "grouping": grouping,
        },
        "seconds": {"asking_checks": round(asking_seconds, 2), "total": round(time.perf_counter() - started, 2)},
    }
    checks = [checks[i] for i in kept]
    base_abstention = None
    if optimizer.target_agreement is not None and chosen == "base":
        base_abstention = _base_abstention(features, base_predictions, y, optimizer)
    if optimizer.target_agreement is not None and chosen in ("prompt", "base") and base_abstention is None:
        note = f"the chosen judge ({chosen}) has no confidence that could be calibrated: it answers every case"
        selection["abstention"] = {"threshold": None, "summary": note}
        log.warning("judge %s: %s", aligned.name, note)
    elif base_abstention is not None:
        selection["abstention"] = {**base_abstention.to_dict(), "summary": base_abstention.describe()}
        log.log(
            logging.INFO if base_abstention.met else logging.WARNING,
            "judge %s (the base judge, kept) %s",
            aligned.name,
            base_abstention.describe(),
        )
    if chosen == "prompt":
        return aligned.with_changes(checks=checks, selection=selection), selection
    if chosen == "base":
        abstention = base_abstention.to_dict() if base_abstention is not None else None
        return aligned.with_changes(decider=BaseDecider(abstention), checks=checks, selection=selection), selection
    use_judge = not np.isnan(features.judge).all()
    fitted = fit_decision(
        chosen, features.with_checks(kept), y, classes, regression, [c.question for c in checks], use_judge, signals
    )
    if fitted.memory_words:  # what the memory learned, shown with its weight and in its verdicts' reasons
        fitted.remember_words([memory_text(label.trace, aligned.embed) for label in labels])
    if optimizer.target_agreement is not None:
        score = next(s for s in scores if s.name == chosen)
        assert score.oof is not None
        predicted, confidence = score.oof
        abstention = choose_abstention(predicted == y, confidence, optimizer.target_agreement, optimizer.risk)
        fitted.abstention = abstention.to_dict()
        selection["abstention"] = {**abstention.to_dict(), "summary": abstention.describe()}
        log.log(logging.INFO if abstention.met else logging.WARNING, "judge %s %s", aligned.name, abstention.describe())
    return aligned.with_changes(
        decider=FittedDecider(fitted, aligned.result_first), checks=checks, selection=selection
    ), selection


def _check_report(
    checks: Sequence[Check],
    labels: Sequence[Label],
    features: CaseFeatures,
    y: np.ndarray,
    regression: bool,
    kept: Sequence[int],
    screened: dict[int, str],
    picked_share: dict[int, float],
) -> list[dict[str, Any]]:
    """Each check: where it came from, how it separates the training labels (all of them, and those outside
    the traces it came from: a distilled rule that transfers separates the cases it was not written from), the
    share of the folds that picked it, and how often it fires (P(yes) >= 0.5) outside the traces it came from."""
    ids = [label.trace.trace_id for label in labels]
    report = []
    for j, check in enumerate(checks):
        p = features.checks[:, j]
        sep = separation(p, y.astype(float), regression)
        sources = set(check.sources)
        away = np.array([i not in sources for i in ids])
        outside = away & ~np.isnan(p)
        fires = float(np.mean(p[outside] >= 0.5)) if outside.any() else None
        both = len(set(y[outside].tolist())) > 1 if not regression else outside.sum() >= 4
        sep_away = separation(p[away], y[away].astype(float), regression) if both else None
        if j in kept:
            why = ""
        elif j in screened:
            why = screened[j]
        elif sep < MIN_SEPARATION:
            why = "does not separate the training labels"
        else:
            why = "max_checks"
        if why:
            log.debug("dropped check %r: %s (separation %.2f)", check.question, why, sep)
        report.append(
            {
                "question": check.question,
                "origin": check.origin,
                "separation": round(sep, 3),
                "separation_outside_sources": None if sep_away is None else round(sep_away, 3),
                "picked_in_folds": round(picked_share.get(j, 0.0), 3),
                "fires_outside_sources": None if fires is None else round(fires, 3),
                "sources": len(sources),
                "kept": not why,
                "why": why,
            }
        )
    return report


def _grounding_report(
    features: CaseFeatures, y: np.ndarray, regression: bool, kept: Sequence[str], not_weighed: str = ""
) -> list[dict[str, Any]]:
    """Each grounding measure, how it separates the training labels, and whether the decision weighs it."""
    assert features.grounding is not None
    report = []
    for j, key in enumerate(grounding.KEYS):
        sep = separation(features.grounding[:, j], y.astype(float), regression)
        why = "" if key in kept else not_weighed or "does not separate the training labels"
        report.append(
            {"feature": grounding.DESCRIBE[key], "key": key, "separation": round(sep, 3), "kept": not why, "why": why}
        )
    return report
