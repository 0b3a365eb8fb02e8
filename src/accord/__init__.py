"""accord: make LLM judges agree with human experts.

The public API mirrors the workflow people know from MLflow, with `accord` in place of `mlflow`.
"""

from accord import align  # noqa: F401 - `accord.align.align(...)`: alignment with its figures
from accord.agreement import compare, evaluate_agreement
from accord.api import delete_traces, get_trace, log_assessments, log_expectation, log_feedback, search_traces
from accord.config import set_tracking_uri
from accord.entities import (
    AssessmentError,
    AssessmentSource,
    AssessmentSourceType,
    Expectation,
    Experiment,
    Feedback,
    Span,
    SpanType,
    Trace,
)
from accord.errors import AccordError
from accord.evaluation import EvaluationResult, evaluate
from accord.experiments import delete_experiment, get_experiment_by_name, search_experiments, set_experiment
from accord.importing import import_feedback, import_traces
from accord.judges.scorers import Scorer, scorer
from accord.label_schemas import delete_label_schema, get_label_schema, label_schemas, set_label_schema
from accord.registry import delete_judge, get_aliases, get_judge, list_judge_versions, list_judges, promote, set_alias
from accord.tracing import get_current_active_span, get_last_active_trace_id, start_span, trace

__version__ = "0.1.0"

_SUBMODULES = ("genai", "openai", "litellm")  # MLflow-style `accord.openai.autolog()` after `import accord`


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"accord.{name}")
    raise AttributeError(f"module 'accord' has no attribute {name!r}")


__all__ = [
    "AccordError",
    "AssessmentError",
    "AssessmentSource",
    "AssessmentSourceType",
    "EvaluationResult",
    "Expectation",
    "Experiment",
    "Feedback",
    "Scorer",
    "Span",
    "SpanType",
    "Trace",
    "delete_experiment",
    "delete_judge",
    "delete_traces",
    "compare",
    "evaluate",
    "evaluate_agreement",
    "get_current_active_span",
    "get_experiment_by_name",
    "get_aliases",
    "get_judge",
    "get_last_active_trace_id",
    "get_trace",
    "import_feedback",
    "import_traces",
    "list_judge_versions",
    "list_judges",
    "log_assessments",
    "log_expectation",
    "log_feedback",
    "promote",
    "scorer",
    "search_experiments",
    "search_traces",
    "set_label_schema",
    "get_label_schema",
    "label_schemas",
    "delete_label_schema",
    "set_alias",
    "set_experiment",
    "set_tracking_uri",
    "start_span",
    "trace",
]
