"""Label schemas: a feedback name's allowed values, declared once per experiment before any judge exists
(`accord feedback schema`). Experts' labels outside it are refused with the allowed values named, so a typo
never becomes a new class, and the review page offers exactly these values."""

from __future__ import annotations

import json
from typing import Any

from accord.entities import Experiment
from accord.experiments import active_experiment_id
from accord.judges.value_types import ValueType
from accord.store import get_store


def _experiment_id(experiment: str | Experiment | None) -> str:
    if isinstance(experiment, Experiment):
        return experiment.experiment_id
    if experiment is None:
        return active_experiment_id()
    return get_store().resolve_experiment(experiment).experiment_id


def set_label_schema(name: str, value_type: Any, experiment: str | Experiment | None = None) -> list[Any]:
    """Declare the values feedback `name` takes in the experiment (default: the active one), written as a
    judge's `feedback_value_type` ("Literal['good', 'poor']", "bool", "int", Literal[...], a list). Returns the
    labels already stored under `name` that the schema does not allow (they stay; new ones are refused)."""
    if not name.strip():
        raise ValueError("a label schema needs a feedback name")
    declared = ValueType.of(value_type)
    experiment_id = _experiment_id(experiment)
    store = get_store()
    store.set_label_schema(experiment_id, name, str(declared))
    outside = []
    for text in store.feedback_values(experiment_id, name, limit=1000):
        value = json.loads(text)
        try:
            declared.coerce(value)
        except ValueError:
            outside.append(value)
    return outside


def get_label_schema(name: str, experiment: str | Experiment | None = None) -> ValueType | None:
    declared = get_store().label_schemas(_experiment_id(experiment)).get(name)
    return ValueType.of(declared) if declared else None


def label_schemas(experiment: str | Experiment | None = None) -> dict[str, ValueType]:
    return {name: ValueType.of(v) for name, v in get_store().label_schemas(_experiment_id(experiment)).items()}


def delete_label_schema(name: str, experiment: str | Experiment | None = None) -> bool:
    return bool(get_store().delete_label_schema(_experiment_id(experiment), name))


def checked_label(trace_id: str, name: str, value: Any) -> Any:
    """An expert's label as the schema of its trace's experiment types it; unchanged where none is declared;
    `ValueError` naming the feedback, the value and the allowed values otherwise."""
    declared = get_store().label_schema_of_trace(trace_id, name)
    if declared is None:
        return value
    try:
        return ValueType.of(declared).coerce(value)
    except ValueError as exc:
        raise ValueError(f"feedback {name!r} on trace {trace_id} takes {declared}: {exc}") from None
