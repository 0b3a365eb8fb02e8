"""The MLflow-compatible names: code written for `mlflow.genai` runs with `mlflow` replaced by `accord`.

    from accord.genai.judges import make_judge
    from accord.genai.scorers import RelevanceToQuery
    from accord.genai.judges.optimizers import MemAlignOptimizer
    from accord.genai.judges.base import AlignmentOptimizer, Judge

These modules only re-export accord's own (`accord.judges`, `accord.align`): there is one implementation.
"""

from accord.evaluation import evaluate

__all__ = ["evaluate"]
