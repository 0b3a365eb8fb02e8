"""`mlflow.genai.judges.base` in accord: the judge and optimizer base classes."""

from accord.align.base import AlignmentOptimizer
from accord.judges.base import Judge

__all__ = ["AlignmentOptimizer", "Judge"]
