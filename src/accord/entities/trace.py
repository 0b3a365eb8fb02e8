"""`accord.entities.trace.Trace`: the MLflow-compatible spelling of `accord.entities.Trace`."""

from accord.entities import Span, Trace

__all__ = ["Span", "Trace"]
