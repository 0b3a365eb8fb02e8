"""Selective verdicts: a confidence threshold below which the judge abstains, chosen so that agreement with
the experts on the verdicts it gives is at least a target, with probability at least 1 - risk.

Fixed-sequence testing (Learn-then-Test, Angelopoulos et al. 2021; Trust or Escalate, Jung et al., ICLR 2025)
on calibration cases that alignment already has: the out-of-fold predictions of the chosen decision, so no
extra model call. For thresholds from the strictest down, H_j "agreement on the cases with confidence >= the
threshold is below the target" is tested with an exact binomial p-value; the walk stops at the first H_j not
rejected at level `risk` and keeps the last rejected threshold. The thresholds are the calibration cases' own
confidences (no labels used to pick them), starting where an eighth of the cases are answered: the strictest
thresholds answer so few cases that their test has little power, and the walk stops at its first failure
(simulated, 200 cases, right with probability = confidence ~ U(0.5, 1), target 0.85, risk 0.1: a threshold
was found in 74% of draws starting at the smallest testable set, 85% starting at an eighth, 58% at a
quarter; the guarantee held in 95-97% of draws each way). It holds for cases exchangeable with the
calibration cases.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from accord.entities import Feedback


@dataclass(frozen=True)
class Abstention:
    """The threshold chosen, and what it gives on the calibration cases."""

    threshold: float | None  # abstain when the decision's confidence is below this; None: no threshold met it
    target: float
    risk: float
    calibration_cases: int
    coverage: float  # share of calibration cases answered at the threshold
    agreement: float | None  # agreement on those answered cases
    best_guaranteed: float | None = None  # when the target is not met: the highest level a threshold reaches

    @property
    def met(self) -> bool:
        return self.threshold is not None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Abstention:
        return cls(
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            target=float(data["target"]),
            risk=float(data["risk"]),
            calibration_cases=int(data["calibration_cases"]),
            coverage=float(data["coverage"]),
            agreement=None if data.get("agreement") is None else float(data["agreement"]),
            best_guaranteed=None if data.get("best_guaranteed") is None else float(data["best_guaranteed"]),
        )

    def describe(self) -> str:
        if self.met:
            return (
                f"abstains below confidence {self.threshold:.3f}: agreement on the verdicts it gives is at least "
                f"{self.target:.0%} with probability {1 - self.risk:.0%}; it answered {self.coverage:.0%} of "
                f"{self.calibration_cases} calibration cases (agreement {self.agreement:.0%} on them)"
            )
        best = f"; the best level it can guarantee is {self.best_guaranteed:.0%}" if self.best_guaranteed else ""
        return (
            f"no threshold guarantees {self.target:.0%} agreement at risk {self.risk:g} on {self.calibration_cases} "
            f"calibration cases{best}: the judge abstains on every case (all go to the experts) until it is "
            "aligned on more labels or asked for a lower target"
        )


def abstain_if_unsure(feedback: Feedback, abstention: dict[str, Any] | None) -> Feedback:
    """Below the abstention threshold (`Abstention.to_dict()`) the verdict becomes an abstention: no value,
    the confidence and threshold in its metadata, never counted as a verdict; the trace goes to the experts'
    review queue first. When no threshold met the target, every verdict becomes an abstention. Verdicts at or
    above the threshold, errors and verdicts without a confidence pass unchanged."""
    if not abstention or feedback.error is not None:
        return feedback
    threshold = abstention.get("threshold")
    confidence = feedback.metadata.get("confidence")
    if threshold is not None and (confidence is None or confidence >= threshold):
        return feedback
    # below the threshold, or no threshold keeps the target at all: the agreement asked for is kept by not
    # answering (Trust or Escalate's escalation), never by answering below it
    metadata = {**feedback.metadata, "abstained": True, "would_have_said": feedback.value, "abstain_below": threshold}
    if threshold is None:
        why = f"no confidence level keeps agreement at {abstention['target']:.0%}"
    else:
        why = (
            f"confidence {confidence:.2f} is below {threshold:.2f}, the level that keeps agreement on the "
            f"verdicts given at {abstention['target']:.0%}"
        )
    rationale = f"abstained: {why} (would have said {feedback.value!r}: {feedback.rationale})"
    return feedback.model_copy(update={"value": None, "rationale": rationale, "metadata": metadata})


def verdict_confidence(probabilities: dict[str, float] | None, verdict: str) -> float:
    """The share of the model's probability on the verdict given, among the verdicts it could give (0 when it
    cannot tell): the confidence a kept base judge abstains on. Alignment computes the same share over the
    verdicts the experts used, which is never below this one, so the threshold errs towards abstaining."""
    if not probabilities:
        return 0.0
    total = sum(p for p in probabilities.values() if p == p)
    return float(probabilities.get(verdict, 0.0)) / total if total > 0 else 0.0


def _p_value(correct: int, n: int, target: float) -> float:
    """P(at least `correct` of `n` right | agreement is exactly `target`): small when agreement exceeds it."""
    from scipy.stats import binom

    return float(binom.sf(correct - 1, n, target)) if n else 1.0


def fixed_sequence_threshold(
    correct: np.ndarray, confidence: np.ndarray, target: float, risk: float
) -> tuple[float | None, float, float | None]:
    """The threshold, the coverage and the agreement at it; (None, 0.0, None) when none is certified."""
    if not 0 < target < 1 or not 0 < risk < 1:
        raise ValueError(f"target agreement and risk must be between 0 and 1, not {target} and {risk}")
    correct = np.asarray(correct, dtype=bool)
    confidence = np.asarray(confidence, dtype=float)
    n = len(correct)
    # fewer cases than log(risk) / log(target) can never reject; an eighth of the cases gives the test power
    smallest = max(math.ceil(math.log(risk) / math.log(target)), math.ceil(n / 8))
    kept: tuple[float | None, float, float | None] = (None, 0.0, None)
    for threshold in sorted(set(confidence.tolist()), reverse=True):
        answered = confidence >= threshold
        count = int(answered.sum())
        if count < smallest:
            continue
        hits = int(correct[answered].sum())
        if _p_value(hits, count, target) > risk:
            break
        kept = (float(threshold), count / n, hits / count)
    return kept


def choose_abstention(correct: np.ndarray, confidence: np.ndarray, target: float, risk: float) -> Abstention:
    """The threshold for `target` at `risk`; when none is certified, the highest level one is (in steps of
    0.01), so the user knows what can be asked."""
    threshold, coverage, agreement = fixed_sequence_threshold(correct, confidence, target, risk)
    best = None
    if threshold is None:
        for level in np.arange(round(target, 2) - 0.01, 0.005, -0.01):
            if fixed_sequence_threshold(correct, confidence, float(level), risk)[0] is not None:
                best = round(float(level), 2)
                break
    return Abstention(threshold, target, risk, len(correct), coverage, agreement, best)
