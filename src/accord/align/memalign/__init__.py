"""MemAlign: align a judge with distilled guidelines (semantic memory) and retrieved examples (episodic)."""

import logging

from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import EpisodicMemory, Example, Guideline
from accord.align.memalign.optimizer import MemAlignOptimizer

__all__ = ["EpisodicMemory", "Example", "Guideline", "MemAlignJudge", "MemAlignOptimizer"]

# MLflow's logger name for MemAlign names the same logger here, so its documented
# `logging.getLogger("mlflow.genai.judges.optimizers.memalign").setLevel(logging.DEBUG)` works with `accord`.
logging.Logger.manager.loggerDict.setdefault(
    "accord.genai.judges.optimizers.memalign", logging.getLogger("accord.align.memalign")
)
