"""`mlflow.genai.judges.optimizers` in accord, with MLflow's names, so MLflow code naming an optimizer runs.
MemAlign's log is also reachable by MLflow's logger name, `accord.genai.judges.optimizers.memalign` (the same
logger as `accord.align.memalign`). SIMBA and GEPA need the `dspy` extra when they run."""

from accord.align.dspy_optimizers import GEPAOptimizer, SIMBAOptimizer
from accord.align.memalign import MemAlignOptimizer

# MLflow's names for the same optimizers (GePaAlignmentOptimizer: its spelling before 3.5)
GEPAAlignmentOptimizer = GEPAOptimizer
GePaAlignmentOptimizer = GEPAOptimizer
SIMBAAlignmentOptimizer = SIMBAOptimizer

__all__ = [
    "GEPAAlignmentOptimizer",
    "GEPAOptimizer",
    "GePaAlignmentOptimizer",
    "MemAlignOptimizer",
    "SIMBAAlignmentOptimizer",
    "SIMBAOptimizer",
]
