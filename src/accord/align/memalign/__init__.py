"""MemAlign: align a judge with distilled guidelines (semantic memory) and retrieved examples (episodic)."""

from accord.align.memalign.judge import MemAlignJudge
from accord.align.memalign.memory import EpisodicMemory, Example, Guideline
from accord.align.memalign.optimizer import MemAlignOptimizer

__all__ = ["EpisodicMemory", "Example", "Guideline", "MemAlignJudge", "MemAlignOptimizer"]
