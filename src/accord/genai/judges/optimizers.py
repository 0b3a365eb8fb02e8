"""`mlflow.genai.judges.optimizers` in accord. MemAlign's log is also reachable by MLflow's logger name,
`accord.genai.judges.optimizers.memalign` (the same logger as `accord.align.memalign`). SIMBA and GEPA
need the `dspy` extra when they run."""

from accord.align.dspy_optimizers import GEPAOptimizer, SIMBAOptimizer
from accord.align.memalign import MemAlignOptimizer

__all__ = ["GEPAOptimizer", "MemAlignOptimizer", "SIMBAOptimizer"]
