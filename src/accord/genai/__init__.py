"""The MLflow-compatible names: code written for `mlflow.genai` runs with `mlflow` replaced by `accord`.

    from accord.genai.judges import make_judge
    from accord.genai.scorers import RelevanceToQuery
    from accord.genai.judges.optimizers import MemAlignOptimizer
    from accord.genai.judges.base import AlignmentOptimizer, Judge

    result = accord.genai.evaluate(data=[{"inputs": {...}, "outputs": ...}], scorers=[...])
    result.metrics, result.tables["eval_results"]

These modules re-export accord's own (`accord.judges`, `accord.align`); `evaluate` takes MLflow's data
shapes and gives MLflow's result shape over accord's one evaluation (`accord.evaluate` for traces).
"""

from accord.config import set_tracking_uri
from accord.genai.evaluation import GenAIEvaluationResult, evaluate

__all__ = ["GenAIEvaluationResult", "evaluate", "set_tracking_uri"]
