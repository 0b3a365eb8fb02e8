"""The active experiment: where traces logged by `@accord.trace` and `start_span` go."""

from __future__ import annotations

from accord.config import settings
from accord.entities import Experiment
from accord.store import get_store

DEFAULT_EXPERIMENT = "Default"
_active: dict[str, str] = {}  # store URI -> experiment id


def set_experiment(name: str) -> Experiment:
    """Make `name` the active experiment, creating it if needed."""
    store = get_store()
    experiment = store.get_or_create_experiment(name)
    _active[store.uri] = experiment.experiment_id
    return experiment


def get_experiment_by_name(name: str) -> Experiment | None:
    return get_store().get_experiment_by_name(name)


def active_experiment_id() -> str:
    store = get_store()
    if store.uri not in _active:
        set_experiment(settings().experiment or DEFAULT_EXPERIMENT)
    return _active[store.uri]


def search_experiments() -> list[Experiment]:
    """Every experiment in the store, oldest first (MLflow's `search_experiments`)."""
    return get_store().list_experiments()


def delete_experiment(name_or_id: str, discard_labels: bool = False) -> int:
    """Delete an experiment with its traces and their feedback; returns how many traces went. An experiment
    holding expert (HUMAN) labels is deleted only with `discard_labels=True`: nothing an expert labelled is
    deleted without a flag that says so."""
    from accord.errors import AccordError

    store = get_store()
    experiment = store.resolve_experiment(name_or_id)
    if not discard_labels:
        labelled = store.human_labelled_trace_ids(store.search_trace_ids([experiment.experiment_id]))
        if labelled:
            raise AccordError(
                f"experiment {experiment.name!r} holds expert labels; deleting it would delete them: pass "
                "discard_labels=True (--discard-labels) to delete it anyway"
            )
    deleted = store.delete_experiment(experiment.experiment_id)
    for uri, active in list(_active.items()):
        if active == experiment.experiment_id:
            del _active[uri]
    return deleted
