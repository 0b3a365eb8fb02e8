"""Alignment: optimizers that turn human feedback into a new judge. `align` is the one path for the Python API,
`accord align` and the review page's "Align now"; OPTIMIZERS names the optimizers."""

from accord.align.base import OPTIMIZERS, AlignmentError, AlignmentOptimizer, load_optimizer
from accord.align.memalign import MemAlignJudge, MemAlignOptimizer
from accord.align.workflow import AlignmentResult, align

__all__ = [
    "OPTIMIZERS",
    "AlignmentError",
    "AlignmentOptimizer",
    "AlignmentResult",
    "MemAlignJudge",
    "MemAlignOptimizer",
    "align",
    "load_optimizer",
]
