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
