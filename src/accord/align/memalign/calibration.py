"""The aligned judge's decision rule, fitted from its own verdict probabilities on training traces.

A small model leans towards one verdict whatever it is shown: on the hallucination set the embedded model
answered "yes" to every held-out trace, although its probability of "no" still ranked the traces. The rule
gives the rarer verdict when its probability reaches a threshold chosen so that, over a sample of training
traces, the judge gives it about as often as the experts did (prior matching). Matching the rate needs only
the spread of the probabilities, which a few dozen traces estimate well; picking the threshold that
maximises agreement on those same traces would chase their noise.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from accord.align.checks.decision import prior_matching_threshold
from accord.align.labels import Label

if TYPE_CHECKING:
    from accord.align.memalign.judge import MemAlignJudge

log = logging.getLogger("accord.align.memalign")


@dataclass(frozen=True)
class DecisionRule:
    value: str  # the verdict given when its probability reaches the threshold
    other: str  # the verdict given otherwise
    threshold: float
    rate: float  # how often the experts gave `value` in the training feedback
    fitted_on: int  # training traces whose probabilities set the threshold

    def decide(self, probabilities: dict[str, float] | None) -> str | None:
        if not probabilities or self.value not in probabilities:
            return None
        return self.value if probabilities[self.value] >= self.threshold else self.other

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRule:
        return cls(
            value=data["value"],
            other=data["other"],
            threshold=float(data["threshold"]),
            rate=float(data["rate"]),
            fitted_on=int(data["fitted_on"]),
        )


def fit_decision_rule(
    judge: MemAlignJudge,
    labels: Sequence[Label],
    size: int,
    seed: int = 0,
    on_scored: Callable[[], None] | None = None,
) -> DecisionRule | None:
    """None when the judge is not a two-verdict judge or its model reports no verdict probabilities."""
    choices = judge.verdict_choices()
    if choices is None or len(choices) != 2:
        return None
    counts = Counter(label.value for label in labels)
    value = min(choices, key=lambda c: (counts.get(c, 0), choices.index(c)))  # the rarer verdict
    other = choices[1 - choices.index(value)]
    rate = counts.get(value, 0) / max(1, len(labels))
    sample = random.Random(seed).sample(list(labels), min(size, len(labels)))
    scores = []
    for label in sample:  # the label's own example is left out of retrieval: see MemAlignJudge.retrieve
        probabilities = judge.verdict_probabilities(judge.gather(trace=label.trace))
        if probabilities is None:
            log.info("%s reports no verdict probabilities: the judge keeps its own verdicts", judge.model)
            return None
        scores.append(probabilities[value])
        if on_scored is not None:
            on_scored()
    threshold = prior_matching_threshold(scores, rate)
    rule = DecisionRule(
        value=value, other=other, threshold=round(threshold, 4), rate=round(rate, 4), fitted_on=len(scores)
    )
    log.debug("decision rule: %s", rule)
    return rule
