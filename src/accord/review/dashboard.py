"""How each version of a judge agrees with the humans, from what is already stored (no model calls).

A version is scored only on labelled traces it has verdicts for and did not learn from (an aligned judge's
own examples are left out), so before/after figures and the learning curve are on unseen traces.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from accord.agreement import scale_order
from accord.align.checks import FittedDecision
from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import Guideline
from accord.entities import Feedback, Trace
from accord.errors import AccordError, NotFoundError
from accord.judges import Judge
from accord.metrics import Agreement, agreement, human_label, is_abstention, reviewer_agreement
from accord.registry import JudgeVersion, list_judge_versions
from accord.review.presenting import preview
from accord.store import get_store

MAX_DISAGREEMENTS = 50


@dataclass
class VersionAgreement:
    key: str  # name@version, or name#fingerprint for an unregistered judge
    label: str
    version: int | None
    n_examples: int  # feedback examples it was aligned with (0 for an unaligned judge)
    training_ids: set[str] = field(default_factory=set, repr=False)
    agreement: Agreement | None = None  # None when it has no verdicts on unseen labelled traces
    unparseable: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    learned_left_out: int = 0  # labelled traces with a verdict that this version learned from: not scored
    abstained: int = 0  # labelled traces where it abstained: not verdicts

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "n_examples": self.n_examples,
            "agreement": self.agreement.to_dict() if self.agreement else None,
            "unparseable": self.unparseable,
            "learned_left_out": self.learned_left_out,
            "abstained": self.abstained,
            "disagreements": self.disagreements,
        }


@dataclass
class Dashboard:
    experiment: str
    name: str
    labelled: int
    versions: list[VersionAgreement]
    reviewers: dict[str, Any]
    guidelines: list[str]
    guidelines_version: str | None
    decision: dict[str, Any] | None = None  # the newest aligned version's candidates, choice and check weights
    monitor: list[dict[str, Any]] = field(default_factory=list)  # `accord monitor`'s points for this judge name
    enough: dict[str, Any] | None = None  # whether more labels are still worth it (`enough_feedback`)

    @property
    def scored(self) -> list[VersionAgreement]:
        return [v for v in self.versions if v.agreement is not None]

    @property
    def curve(self) -> list[VersionAgreement]:
        """Agreement against the number of feedback examples, one point per scored version."""
        return sorted(self.scored, key=lambda v: (v.n_examples, v.version or 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "name": self.name,
            "labelled": self.labelled,
            "versions": [v.to_dict() for v in self.versions],
            "learning_curve": [
                {"n_examples": v.n_examples, "key": v.key, "cohen_kappa": v.agreement.cohen_kappa}
                for v in self.curve
                if v.agreement
            ],
            "reviewers": self.reviewers,
            "guidelines": self.guidelines,
            "decision": self.decision,
            "enough_feedback": self.enough,
        }


def _versions_of(name: str, judge_rows: list[JudgeVersion]) -> list[VersionAgreement]:
    found = []
    for row in judge_rows:
        spec = row.spec
        if spec.get("name") != name:
            continue
        aligned = MemAlignJudge.from_dict(spec) if spec.get("kind") == "memalign" else None
        examples = len(aligned.memory.examples) if aligned is not None else 0
        found.append(
            VersionAgreement(
                key=f"{row.name}@{row.version}",
                label=f"{row.name} v{row.version}" + (" (aligned)" if examples else ""),
                version=row.version,
                n_examples=examples,
                # the judge's own account, as every other figure leaves them out: examples and rule sources
                training_ids=set(aligned.learned_from) if aligned is not None else set(),
            )
        )
    return found


def _newest_verdicts(traces: list[Trace], name: str) -> dict[str, dict[str, Feedback]]:
    """judge key -> trace id -> that judge's newest verdict (including verdicts a human overrode)."""
    by_key: dict[str, dict[str, Feedback]] = defaultdict(dict)
    for trace in traces:
        for verdict in trace.search_assessments(name=name, type="feedback", source_type="LLM_JUDGE", all=True):
            key = verdict.metadata.get("judge_key") or verdict.source.source_id
            by_key[key][trace.trace_id] = verdict  # type: ignore[assignment]  # sorted oldest first
    return by_key


def _score(version: VersionAgreement, traces: list[Trace], verdicts: dict[str, Feedback], judge: Judge) -> None:
    human, judged = [], []
    for trace in traces:
        verdict = verdicts.get(trace.trace_id)
        if verdict is None:
            continue
        if trace.trace_id in version.training_ids:
            version.learned_left_out += 1
            continue
        if verdict.error is not None:
            version.unparseable += 1
            continue
        if is_abstention(verdict):
            version.abstained += 1
            continue
        label = human_label(trace, judge.name)
        human.append(label)
        judged.append(verdict.value)
        if str(label) != str(verdict.value) and len(version.disagreements) < MAX_DISAGREEMENTS:
            version.disagreements.append(
                {
                    "trace_id": trace.trace_id,
                    **trace_text(trace),
                    "human": label,
                    "judge": verdict.value,
                    "rationale": verdict.rationale,
                }
            )
    if human:
        version.agreement = agreement(human, judged, order=scale_order(judge.value_type, human + judged))


def trace_text(trace: Trace) -> dict[str, str]:
    """The start of a trace's input and output, for tables that would otherwise show a bare id."""
    return {"input": preview(trace.inputs, 120), "output": preview(trace.outputs, 200)}


def labelled_traces(experiment_id: str, name: str) -> list[Trace]:
    """The experiment's traces with a usable HUMAN label named `name`, with their assessments."""
    store = get_store()
    ids = store.search_trace_ids([experiment_id], assessment_name=name, assessment_source_type="HUMAN")
    return [t for t in store.get_traces(ids) if human_label(t, name) is not None]


def registered_versions(judge: Judge) -> list[JudgeVersion]:
    """Every registered version under the judge's registry name; none for a judge never registered."""
    try:
        return list_judge_versions(judge.registered_name or judge.name)
    except NotFoundError:
        return []


def build_dashboard(
    experiment_id: str, experiment_name: str, judge: Judge, target_kappa: float | None = None
) -> Dashboard:
    name = judge.name
    judge_rows = registered_versions(judge)
    traces = labelled_traces(experiment_id, name)
    verdicts = _newest_verdicts(traces, name)
    versions = _versions_of(name, judge_rows)
    known = {v.key for v in versions}
    for key in sorted(verdicts):
        if key not in known:  # verdicts of a judge that was never registered
            versions.append(
                VersionAgreement(key=key, label=f"{key.split('#')[0]} (unregistered)", version=None, n_examples=0)
            )
    for version in versions:
        _score(version, traces, verdicts.get(version.key, {}), judge)
    guidelines: list[str] = []
    guidelines_version = None
    decision = None
    for row in reversed(judge_rows):
        if row.spec.get("name") == name and row.spec.get("kind") == "memalign":
            guidelines = [Guideline(**g).sentence() for g in row.spec.get("guidelines", [])]
            guidelines_version = f"{row.name}@{row.version}"
            decision = _decision_view(row.spec)
            break
    try:
        reviewers = reviewer_agreement(traces, name)
    except AccordError:
        reviewers = {"items_with_several_reviewers": 0, "reviewers": [], "disagreements": []}
    by_id = {t.trace_id: t for t in traces}
    for row in reviewers["disagreements"]:  # what the reviewers disagreed about, not a bare id
        if row.get("trace_id") in by_id:
            row.update(trace_text(by_id[row["trace_id"]]))
    names = {judge.registered_name or name, name}
    monitor = [
        p for p in get_store().monitor_points(experiment_id) if p["judge_key"].split("@")[0].split("#")[0] in names
    ]
    return Dashboard(
        experiment_name,
        name,
        len(traces),
        versions,
        reviewers,
        guidelines,
        guidelines_version,
        decision,
        monitor,
        enough_feedback(judge_rows, name, target_kappa),
    )


NARROWING = 0.02  # the interval narrowed by less than this since the previous alignment: it has stopped


def enough_feedback(judge_rows: list[JudgeVersion], name: str, target: float | None = None) -> dict[str, Any] | None:
    """Whether more expert labels are still worth it, from the cross-validated kappa of the chosen decision
    of each aligned version (in the order they were aligned): enough when the interval's lower end clears
    `target`, or when the interval stopped narrowing between the last two alignments on more labels."""
    points = []
    for row in judge_rows:
        selection = row.spec.get("selection") or {}
        chosen = next((c for c in selection.get("candidates", []) if c["name"] == selection.get("chosen")), None)
        if row.spec.get("name") != name or not chosen or not chosen.get("cv_kappa_ci"):
            continue
        low, high = chosen["cv_kappa_ci"]
        points.append(
            {"version": row.version, "labels": (selection.get("cv") or {}).get("traces", 0), "low": low, "high": high}
        )
    if not points:
        return None
    last = points[-1]
    width = last["high"] - last["low"]
    found: dict[str, Any] = {**last, "width": round(width, 3), "enough": False}
    if target is not None and last["low"] >= target:
        found.update(enough=True, why=f"the cross-validated kappa's lower end, {last['low']:.2f}, clears {target:.2f}")
    elif len(points) >= 2 and last["labels"] > points[-2]["labels"]:
        before = points[-2]["high"] - points[-2]["low"]
        if before - width < NARROWING:
            found.update(
                enough=True,
                why=f"the cross-validated kappa's interval stopped narrowing ({before:.2f} wide with "
                f"{points[-2]['labels']} labels, {width:.2f} with {last['labels']}): more labels like these add little",
            )
        else:
            found["why"] = f"the interval is still narrowing ({before:.2f} -> {width:.2f} wide): more labels help"
    else:
        found["why"] = f"cross-validated kappa {last['low']:.2f} to {last['high']:.2f} on {last['labels']} labels"
    return found


def _decision_view(spec: dict[str, Any]) -> dict[str, Any] | None:
    """What the page shows of an aligned version's decision: the candidates compared, the choice, and each
    check with its weight (read from the stored JSON spec, as the registry keeps it)."""
    selection = spec.get("selection") or {}
    if not selection and not spec.get("checks"):
        return None
    checks = [c["question"] for c in spec.get("checks") or []]
    weights = []
    if spec.get("fitted"):
        try:
            weights = FittedDecision.from_dict(spec["fitted"]).weights(checks)
        except AccordError:
            weights = []
    return {
        "mode": spec.get("mode", "prompt"),
        "chosen": selection.get("chosen"),
        "reason": selection.get("reason", ""),
        "candidates": selection.get("candidates", []),
        "checks": checks,
        "weights": weights,
        "stale": bool((spec.get("fitted") or {}).get("stale")),
    }
