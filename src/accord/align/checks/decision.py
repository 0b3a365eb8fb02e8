"""A decision fitted to the experts: from what the model said about a case to the verdict.

Features of a case (computed once per training trace and reused by every fit):
- the judge's own verdict probabilities, asked as one more question after the case;
- P(yes) of every check;
- grounding: how much of the output is found in its inputs, measured on the words (`grounding.py`);
- the episodic memory as a learner: a regularised classifier over the stored examples' embeddings and their
  words (hashed words and word pairs: with a few dozen labels the words that mark a verdict, "I've issued",
  "by Friday", are found where an embedding of the whole answer blurs them).
A small regularised model maps them to the verdict: logistic regression for two verdicts, multinomial for
more, ridge regression rounded to the nearest scale value for numbers; or, for the "calibrated" candidate,
a threshold on the judge's own probability. Everything is plain numbers in JSON: no pickle, and the same
weights explain each verdict ("'no': promises a refund (yes 0.93)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from accord.align.checks.folds import fold_splits
from accord.align.checks.grounding import DESCRIBE, KEYS
from accord.align.checks.linear import LinearModel
from accord.align.checks.words import marking, remember, strongest
from accord.errors import AccordError

MIN_PER_VERDICT = 5  # fewer examples of some verdict than this: only the "shrunk" decision is fitted
C_DECISION = 1.0
C_MEMORY = 0.05  # strong: a few dozen examples against hundreds of dimensions
# buckets of the memory's hashed words. Measured on the demo's held-out 40 traces with 25 training labels, the
# memory classifier ranks the experts' 'no' at AUC 0.77 on embeddings alone and 0.90 with 2048 buckets of words
# added (1024: 0.88); on halueval and faithbench (unseen documents) both stay at 0.5 to 0.7
MEMORY_WORDS = 2048
# "shrunk": a prior precision on each standardised weight (a normal prior of variance 1): with a dozen labels a
# check moves the base judge's verdict only as far as its evidence carries it
SHRINK = 1.0
SHRINK_INTERCEPT = 0.1  # the experts' base rate may differ from the judge's more freely


@dataclass
class CaseFeatures:
    """Rows of features for n cases; `judge` columns follow the decision's classes, NaN where unknown."""

    judge: np.ndarray  # n x K: the judge's own probability of each verdict
    checks: np.ndarray  # n x m: P(yes) of each check
    vectors: np.ndarray  # n x d: embeddings of what the memory embeds
    groups: np.ndarray | None = None  # n: cases with the same inputs share a group (never split across folds)
    grounding: np.ndarray | None = None  # n x len(grounding.KEYS); None when the decision weighs none
    words: np.ndarray | None = None  # n x buckets: the hashed words of what the memory embeds; None: not measured

    def with_checks(self, columns: Sequence[int]) -> CaseFeatures:
        """The same cases with only these check columns, in this order."""
        return replace(self, checks=self.checks[:, list(columns)])

    def rows(self, index: Sequence[int] | np.ndarray) -> CaseFeatures:
        index = np.asarray(index, dtype=int)
        groups = None if self.groups is None else self.groups[index]
        grounding = None if self.grounding is None else self.grounding[index]
        words = None if self.words is None else self.words[index]
        return CaseFeatures(self.judge[index], self.checks[index], self.vectors[index], groups, grounding, words)


@dataclass
class FittedDecision:
    """How an aligned judge turns a case's features into a verdict (see the module's docstring)."""

    candidate: str  # "calibrated", "checks", "memory" or "checks+memory"
    classes: list[Any]  # the verdicts, in scale order
    regression: bool  # numbers: a regression rounded to the nearest class
    uses_judge: bool
    check_questions: list[str]  # the checks it was fitted on, in the judge's order (a check edit makes it stale)
    linear: LinearModel | None = None
    memory: LinearModel | None = None  # classifier (or regression) over the examples' embeddings (and words)
    threshold: float | None = None  # "calibrated": classes[1] when its probability reaches this
    fitted_on: int = 0
    stale: bool = False  # the checks were edited after fitting: align again to refit
    extra: dict[str, Any] = field(default_factory=dict)
    grounding: list[str] = field(default_factory=list)  # the grounding.KEYS it weighs (none before they existed)
    # "shrunk": the base judge's own verdict is the starting point (its log-odds, or its expected place on a
    # scale) and the weights only move it; `linear` holds those weights
    offset: bool = False
    # selective verdicts: `accord.align.selective.Abstention.to_dict()`; the judge abstains below its threshold
    abstention: dict[str, Any] | None = None
    memory_words: int = 0  # buckets of hashed words the memory reads after the embedding (0: embeddings alone)

    @property
    def abstain_below(self) -> float | None:
        return None if not self.abstention else self.abstention.get("threshold")

    @property
    def asks_judge(self) -> bool:
        """Whether a verdict needs the judge's own verdict probabilities asked after the case."""
        return self.uses_judge or self.threshold is not None or self.offset

    @property
    def on_scale(self) -> bool:
        """A shrunk decision over three or more verdicts (or numbers) places the case on the ordered scale."""
        return self.offset and (self.regression or len(self.classes) > 2)

    def offsets(self, features: CaseFeatures) -> np.ndarray:
        """The base judge's starting point for each case: the log-odds of the second verdict, or the
        expected place on the scale; the training mean where the model gave no probabilities."""
        fill = float(self.extra.get("offset_fill", 0.0))
        return base_offsets(features.judge, len(self.classes), self.on_scale, fill)

    # features ------------------------------------------------------------------------------------------
    @property
    def uses_memory(self) -> bool:
        return self.memory is not None

    def _class_columns(self) -> int:
        return 1 if self.regression else (1 if len(self.classes) == 2 else len(self.classes))

    def feature_names(self) -> list[str]:
        names: list[str] = []
        if self.uses_judge:
            names += [f"judge:{c}" for c in self._class_values()]
        names += [f"check:{i}" for i in range(len(self.check_questions))]
        names += [f"grounding:{key}" for key in self.grounding]
        if self.uses_memory:
            names += [f"memory:{c}" for c in self._class_values()]
        return names

    def _class_values(self) -> list[Any]:
        if self.regression:
            return ["value"]
        return [self.classes[1]] if len(self.classes) == 2 else list(self.classes)

    def memory_input(self, features: CaseFeatures) -> np.ndarray:
        """What the memory classifier reads: the embeddings, then the hashed words when it was fitted on them."""
        if not self.memory_words:
            return features.vectors
        if features.words is None or features.words.shape[1] != self.memory_words:
            raise ValueError(f"the decision's memory reads {self.memory_words} buckets of words, not measured here")
        return np.hstack([features.vectors, features.words])

    def _memory_columns(self, x: np.ndarray) -> np.ndarray:
        """The memory classifier's columns for its input rows `x` (see `memory_input`)."""
        assert self.memory is not None
        if self.regression:
            return self.memory.scores(x)[:, :1]
        p = self.memory.probabilities(x)
        return p[:, 1:] if len(self.classes) == 2 else p

    def matrix(self, features: CaseFeatures, memory_columns: np.ndarray | None = None) -> np.ndarray:
        parts = []
        if self.uses_judge:
            parts.append(features.judge[:, 1:] if len(self.classes) == 2 else features.judge)
        parts.append(features.checks[:, : len(self.check_questions)])
        if self.grounding:
            if features.grounding is None:
                raise ValueError("the decision weighs grounding, but the case's grounding was not measured")
            parts.append(features.grounding[:, [KEYS.index(key) for key in self.grounding]])
        if self.uses_memory:
            parts.append(
                memory_columns if memory_columns is not None else self._memory_columns(self.memory_input(features))
            )
        return np.column_stack(parts) if parts else np.zeros((len(features.checks), 0))

    # deciding ------------------------------------------------------------------------------------------
    def predict(self, features: CaseFeatures) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and the confidence of each (the winning class's probability; for a regression,
        1 minus the distance to the nearest scale value)."""
        n = len(features.checks)
        if self.offset:
            assert self.linear is not None
            z = self.offsets(features) + self.linear.scores(self.matrix(features))[:, 0]
            if self.on_scale:
                index = np.clip(np.rint(z), 0, len(self.classes) - 1).astype(int)
                return index, np.clip(1 - np.abs(z - index), 0, 1)
            p1 = 1.0 / (1.0 + np.exp(-z))
            index = (p1 >= 0.5).astype(int)
            return index, np.where(index == 1, p1, 1 - p1)
        if self.threshold is not None:
            p = features.judge[:, 1]
            p = np.where(np.isnan(p), 0.5, p)
            index = (p >= self.threshold).astype(int)
            return index, np.where(index == 1, p, 1 - p)
        assert self.linear is not None
        x = self.matrix(features)
        if self.regression:
            values = self.linear.scores(x)[:, 0]
            scale = np.asarray(self.classes, dtype=float)
            index = np.abs(values[:, None] - scale[None, :]).argmin(axis=1)
            return index, np.clip(1 - np.abs(values - scale[index]), 0, 1)
        p = self.linear.probabilities(x)
        index = p.argmax(axis=1)
        return index, p[np.arange(n), index]

    def class_probabilities(self, features: CaseFeatures) -> np.ndarray | None:
        """Each class's probability under the decision (n x classes); None for thresholds and regressions."""
        if self.threshold is not None or self.regression or self.linear is None or self.on_scale:
            return None
        if self.offset:
            p1 = 1.0 / (1.0 + np.exp(-(self.offsets(features) + self.linear.scores(self.matrix(features))[:, 0])))
            return np.column_stack([1 - p1, p1])
        return self.linear.probabilities(self.matrix(features))

    def explain(self, features: CaseFeatures, index: int, questions: Sequence[str], text: str = "") -> str:
        """What decided one case's verdict: the features that pushed hardest towards it (for the memory, the
        case's words that moved it most, read from `text`, what the memory embeds)."""
        verdict = self.classes[index]
        if self.threshold is not None:
            p = features.judge[0, 1]
            return (
                f"{verdict!r}: the judge's own probability of {self.classes[1]!r} is {p:.2f} "
                f"(threshold {self.threshold:.2f})"
            )
        assert self.linear is not None
        x = self.matrix(features)
        push = self._push(self.linear, x, index)
        names = self.feature_names()
        order = [i for i in np.argsort(-push) if push[i] > 0][:2]
        reasons = [self._describe(names[i], x[0, i], questions) for i in order]
        if any(names[i].startswith("memory:") for i in order):
            marked = self.marking_words(features, index, text)
            if marked:
                at = next(k for k, i in enumerate(order) if names[i].startswith("memory:"))
                reasons[at] += " (its words that weighed most: " + ", ".join(repr(w) for w in marked) + ")"
        if self.offset:
            start = self._base_start(features)
            return f"{verdict!r}: " + "; ".join([start, *reasons])
        return f"{verdict!r}: " + ("; ".join(reasons) if reasons else "the experts' base rate")

    def _push(self, model: LinearModel, x: np.ndarray, index: int) -> np.ndarray:
        """How far each feature of one case (`x`, one row) moved the model towards verdict `index`."""
        z = model.standardise(x)[0]
        coef = np.asarray(model.coef)
        if self.on_scale or self.regression:  # what moved the case's place or estimate most, either way
            return np.abs(coef[0] * z)
        if coef.shape[0] == 1:  # two verdicts: positive weights push towards the second
            return coef[0] * z * (1 if index == 1 else -1)
        return (coef[index] - coef.mean(axis=0)) * z

    # the memory's words (`words.py`) ---------------------------------------------------------------------
    def _word_leanings(self) -> list[tuple[Any, np.ndarray]]:
        """Each verdict (a scale or numbers: 'higher', 'lower') and how each bucket of words leans to it, on the
        standardised scale: a word's pull across the answers, so a word of two answers does not outrank one of
        twenty."""
        assert self.memory is not None
        coef = np.asarray(self.memory.coef)[:, len(self.memory.mean) - self.memory_words :]
        if self.regression or self.on_scale:
            return [("higher", coef[0]), ("lower", -coef[0])]
        if coef.shape[0] == 1:  # one row: towards the second verdict
            return [(self.classes[1], coef[0]), (self.classes[0], -coef[0])]
        return [(c, coef[k] - coef.mean(axis=0)) for k, c in enumerate(self.classes)]

    def remember_words(self, texts: Sequence[str]) -> None:
        """Keep the training words the buckets that lean most to each verdict stand for (`words.remember`)."""
        if self.memory_words and self.memory is not None:
            leanings = [lean for _, lean in self._word_leanings()]
            self.extra["memory_vocabulary"] = remember(texts, leanings, self.memory_words)

    def learned_words(self, most: int = 5) -> list[tuple[Any, list[str]]]:
        """For each verdict, the remembered words whose weight leans to it most."""
        known = self.extra.get("memory_vocabulary") or {}
        if not known or self.memory is None:
            return []
        return [(verdict, strongest(known, lean, most)) for verdict, lean in self._word_leanings()]

    def marking_words(self, features: CaseFeatures, index: int, text: str, most: int = 3) -> list[str]:
        """The remembered words of `text` that moved the memory classifier most towards verdict `index`."""
        known = self.extra.get("memory_vocabulary") or {}
        if not known or self.memory is None or not text:
            return []
        push = self._push(self.memory, self.memory_input(features), index)
        return marking(known, push[len(self.memory.mean) - self.memory_words :], text, self.memory_words, most)

    def _base_start(self, features: CaseFeatures) -> str:
        row = features.judge[0]
        if np.isnan(row).all():
            return "the base judge gave no probabilities (the experts' mean was the start)"
        if self.on_scale:
            return f"the base judge placed it at {self.offsets(features)[0] + 1:.1f} of {len(self.classes)}"
        p1 = float(row[1]) / max(float(np.nansum(row[:2])), 1e-9)
        lean, p = (self.classes[1], p1) if p1 >= 0.5 else (self.classes[0], 1 - p1)
        return f"the base judge leaned {lean!r} ({p:.2f})"

    def _describe(self, name: str, value: float, questions: Sequence[str]) -> str:
        kind, _, key = name.partition(":")
        shown = "missing" if math.isnan(value) else f"{value:.2f}"
        if kind == "check":
            text = questions[int(key)] if int(key) < len(questions) else self.check_questions[int(key)]
            return f"{text} P(yes) {shown}"
        if kind == "judge":
            return f"the judge's own verdict {key!r} ({shown})"
        if kind == "grounding":
            return f"{DESCRIBE[key]} {shown}"
        return f"similar expert-labelled cases put {key!r} at {shown}"  # a probability, whichever way it leans

    def weights(self, questions: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Each feature and its weight on the standardised scale (towards the last verdict for two verdicts,
        one weight per verdict for more), for showing how the decision reads the checks."""
        if self.linear is None:
            return [{"feature": f"the judge's own probability of {self.classes[1]!r}", "threshold": self.threshold}]
        rows: list[dict[str, Any]] = []
        if self.offset:
            rows.append(
                {"feature": "the base judge's own verdict (the start; the weights below move it)", "weight": 1.0}
            )
        coef = np.asarray(self.linear.coef)
        for j, name in enumerate(self.feature_names()):
            kind, _, key = name.partition(":")
            if kind == "check":
                i = int(key)
                label = questions[i] if i < len(questions) else self.check_questions[i]
            elif kind == "judge":
                label = f"the judge's own probability of {key!r}"
            elif kind == "grounding":
                label = DESCRIBE[key]
            else:
                label = (
                    f"the memory classifier's probability of {key!r}"
                    if not self.regression
                    else "the memory's estimate"
                )
                learned = [(verdict, words) for verdict, words in self.learned_words() if words]
                if learned and not any(row["feature"].startswith("the memory") for row in rows):  # the first row
                    said = "; for ".join(f"{v!r}: " + ", ".join(repr(w) for w in words) for v, words in learned)
                    label += f" (its words for {said})"
            weight: Any = (
                round(float(coef[0, j]), 3)
                if coef.shape[0] == 1
                else {str(c): round(float(coef[k, j]), 3) for k, c in enumerate(self.classes)}
            )
            rows.append({"feature": label, "weight": weight})
        return rows

    # storing -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # decisions stored before these fields read alike
        for key, unset in (("offset", False), ("abstention", None), ("memory_words", 0)):
            if data[key] == unset:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedDecision:
        try:
            decision = cls(
                candidate=str(data["candidate"]),
                classes=list(data["classes"]),
                regression=bool(data["regression"]),
                uses_judge=bool(data["uses_judge"]),
                check_questions=[str(q) for q in data["check_questions"]],
                linear=LinearModel(**data["linear"]) if data.get("linear") else None,
                memory=LinearModel(**data["memory"]) if data.get("memory") else None,
                threshold=None if data.get("threshold") is None else float(data["threshold"]),
                fitted_on=int(data.get("fitted_on", 0)),
                stale=bool(data.get("stale", False)),
                extra=dict(data.get("extra") or {}),
                grounding=[str(key) for key in data.get("grounding") or []],
                offset=bool(data.get("offset", False)),
                abstention=dict(data["abstention"]) if data.get("abstention") else None,
                memory_words=int(data.get("memory_words", 0)),
            )
            unknown = [key for key in decision.grounding if key not in KEYS]
            if unknown:
                raise ValueError(f"unknown grounding features {unknown}")
            if decision.memory_words < 0 or (
                decision.memory_words
                and (decision.memory is None or len(decision.memory.mean) <= decision.memory_words)
            ):
                raise ValueError(f"a memory of {decision.memory_words} buckets of words does not match its weights")
            if decision.linear is not None:
                decision.linear.check_shape(len(decision.feature_names()))
            elif decision.threshold is None:
                raise ValueError("neither weights nor a threshold")
        except (KeyError, TypeError, ValueError) as exc:
            raise AccordError(f"the fitted decision is damaged ({type(exc).__name__}: {exc})") from None
        return decision


def prior_matching_threshold(scores: np.ndarray | Sequence[float], rate: float) -> float:
    """The probability above which a verdict is given about as often as the experts gave it (`rate`):
    matching the rate needs only the spread of the probabilities, which a few dozen cases estimate well,
    where the threshold that maximises agreement on them would chase their noise. 1.01: never given."""
    values = np.asarray(scores, dtype=float)
    return float(np.quantile(values, 1 - rate)) if rate > 0 and len(values) else 1.01


def class_index(values: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    position = {repr(c): i for i, c in enumerate(classes)}
    return np.array([position[repr(v)] for v in values], dtype=int)


def fit_decision(
    candidate: str,
    features: CaseFeatures,
    y: np.ndarray,
    classes: list[Any],
    regression: bool,
    check_questions: list[str],
    use_judge: bool,
    grounding: Sequence[str] = (),
) -> FittedDecision:
    """Fit one candidate on these rows (`y`: class indices). "checks" uses the judge's probabilities, the
    checks and the `grounding` features named; "memory" the examples' embeddings and words; "checks+memory" stacks the
    memory's out-of-fold prediction as one more feature; "calibrated" fits a threshold on the judge's own
    probability (prior matching)."""
    n = len(y)
    if candidate == "shrunk":
        from accord.align.checks.shrunk import fit_shrunk  # it builds a FittedDecision: imported when used

        return fit_shrunk(features, y, classes, regression, check_questions, grounding)
    if candidate == "calibrated":
        rate = float(np.mean(y == 1))
        p = features.judge[:, 1]
        p = p[~np.isnan(p)]
        threshold = prior_matching_threshold(p, rate)
        return FittedDecision(candidate, classes, False, True, [], threshold=round(threshold, 4), fitted_on=n)
    use_checks = candidate in ("checks", "checks+memory")
    use_memory = candidate in ("memory", "checks+memory")
    decision = FittedDecision(
        candidate,
        classes,
        regression,
        use_judge and use_checks,
        check_questions if use_checks else [],
        fitted_on=n,
        grounding=list(grounding) if use_checks else [],
    )
    target = np.asarray(classes, dtype=float)[y] if regression else y
    memory_columns = None
    if use_memory:
        decision.memory_words = 0 if features.words is None else features.words.shape[1]
        x = decision.memory_input(features)
        decision.memory = LinearModel.fit(x, target, regression, C_MEMORY)
        if use_checks:  # stacked: the training rows see the memory's out-of-fold prediction, not its own fit
            memory_columns = _out_of_fold_memory(decision, x, target, regression, features.groups)
    decision.linear = LinearModel.fit(decision.matrix(features, memory_columns), target, regression, C_DECISION)
    return decision


def _out_of_fold_memory(
    decision: FittedDecision,
    x: np.ndarray,
    target: np.ndarray,
    regression: bool,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    folds = min(5, len(target)) if regression else min(5, int(np.bincount(target.astype(int)).min()))
    splits = (
        fold_splits(target.astype(int) if not regression else target, groups, folds, 0, regression)
        if folds >= 2
        else []
    )
    if not splits:
        return decision._memory_columns(x)
    columns = decision._memory_columns(x).copy()
    for train, test in splits:
        inner = FittedDecision(decision.candidate, decision.classes, regression, False, [])
        inner.memory = LinearModel.fit(x[train], target[train], regression, C_MEMORY)
        columns[test] = inner._memory_columns(x[test])
    return columns


def base_offsets(judge: np.ndarray, n_classes: int, on_scale: bool, fill: float) -> np.ndarray:
    """See `FittedDecision.offsets`: judge columns follow the classes; NaN rows take `fill`."""
    if judge.shape[1] == 0 or (not on_scale and judge.shape[1] < 2):
        return np.full(len(judge), fill)
    known = ~np.isnan(judge).all(axis=1)
    p = np.where(np.isnan(judge), 0.0, judge)
    if on_scale:
        total = p.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            place = (p * np.arange(judge.shape[1])).sum(axis=1) / total
        known &= total > 0
        return np.where(known, place, fill)
    total = p[:, 0] + p[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = np.clip(p[:, 1] / total, 0.02, 0.98)  # a hosted model's 0/1 answer becomes a firm, finite lean
    known &= total > 0
    return np.where(known, np.log(p1 / (1 - p1)), fill)
