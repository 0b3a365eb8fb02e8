"""What a review page is about: an experiment, and either a judge (its verdicts are shown, feedback is
collected under its name) or only a feedback name, for experts who label before anyone writes a judge."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from accord.entities import Experiment
from accord.errors import NotFoundError
from accord.judges import Judge
from accord.judges.value_types import ValueType
from accord.registry import list_judges
from accord.review.presenting import parse_value, value_choices, value_label
from accord.store import Store

FEEDBACK_NAME = re.compile(r"[\w .:\-]{1,200}")
MAX_FREE_VALUE = 500


@dataclass
class Context:
    experiment: Experiment
    judge: Judge | None
    judge_ref: str | None
    name: str  # the feedback name labels are saved under; "" until the reviewer chooses one
    known_values: list[Any] = field(default_factory=list)  # values already given under `name` (no judge)
    feedback_names: list[tuple[str, int]] = field(default_factory=list)  # names on the traces, with counts
    judges: list[str] = field(default_factory=list)  # registered judges of the experiment, to switch to
    schema: ValueType | None = None  # the label schema declared for `name` (no judge): its values only

    @property
    def value_type(self) -> ValueType | None:
        """The values labels take: the judge's, else the declared schema's; None when any text goes."""
        return self.judge.value_type if self.judge is not None else self.schema

    def params(self) -> dict[str, str]:
        if self.judge_ref:
            return {"experiment": self.experiment.name, "judge": self.judge_ref}
        return {"experiment": self.experiment.name, **({"feedback": self.name} if self.name else {})}

    def query(self, **extra: Any) -> str:
        params: dict[str, Any] = dict(self.params())
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return urlencode(params)

    def choices(self) -> list[tuple[str, str]]:
        """(value as posted, label) for a fixed set of values: the judge's or the schema's, else those
        already given."""
        if self.value_type is not None:
            return value_choices(self.value_type)
        return [(value_label(v), value_label(v)) for v in self.known_values]

    def parse(self, posted: str) -> Any:
        """The posted value: of the judge's or the schema's type, else one already given (keeping its type)
        or new text."""
        if self.value_type is not None:
            return parse_value(self.value_type, posted)
        text = posted.strip()
        if not text:
            raise ValueError("choose or type a value before saving")
        if len(text) > MAX_FREE_VALUE:
            raise ValueError(f"a value is at most {MAX_FREE_VALUE} characters")
        return next((v for v in self.known_values if value_label(v) == text), text)


def resolve_context(
    store: Store,
    judge_for: Callable[[str], Judge],
    experiment: str | None,
    judge: str | None,
    feedback: str | None,
) -> Context:
    """The experiment named (or the only one), with the judge named, else the feedback name named, else the
    experiment's only registered judge, else the feedback name most used on its traces (or none yet)."""
    if not experiment:
        known = [e.name for e in store.list_experiments()]
        if len(known) != 1:
            raise NotFoundError(f"name an experiment with ?experiment= (known: {', '.join(known) or 'none'})")
        experiment = known[0]
    found = store.resolve_experiment(experiment)
    registered = [j.name for j in list_judges(found.experiment_id)]
    if not judge and not feedback and len(registered) == 1:
        judge = registered[0]
    if judge:
        chosen = judge_for(judge)
        return Context(found, chosen, judge, chosen.name, judges=registered)
    names = store.feedback_names(found.experiment_id)
    if feedback is not None and not FEEDBACK_NAME.fullmatch(feedback):
        raise NotFoundError(
            "a feedback name is 1 to 200 letters, digits, spaces or . : - _ (like the judge it will train)"
        )
    name = feedback or (names[0][0] if names else "")
    values = [json.loads(v) for v in store.feedback_values(found.experiment_id, name)] if name else []
    declared = store.label_schemas(found.experiment_id).get(name) if name else None
    schema = ValueType.of(declared) if declared else None
    return Context(found, None, None, name, values, names, registered, schema)
