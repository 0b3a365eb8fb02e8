"""Alignment: optimizers that turn human feedback into a new judge."""

from accord.align.base import AlignmentError, AlignmentOptimizer, load_optimizer
from accord.align.memalign import MemAlignJudge, MemAlignOptimizer

__all__ = ["AlignmentError", "AlignmentOptimizer", "MemAlignJudge", "MemAlignOptimizer", "load_optimizer"]
