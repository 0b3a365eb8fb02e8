"""Evaluation: judges over many traces, on threads or Ray, verdicts to the store or to files.

One loop (`driver.drive`) runs every evaluation: `work` decides what needs a verdict, `claims` shares it with
other runs of the same judge, a runner (`runners.ThreadRunner`, `on_ray.RayRunner`) computes verdicts, and a
sink (`sinks`) writes them. `evaluate()` (`engine`) judges stored traces or trace objects; `judge_files()`
(`accord.evaluation.files`, imported when used) judges traces in files that never enter the store.
"""

from accord.evaluation.engine import evaluate
from accord.evaluation.work import EvaluationResult, WorkItem, judge_item, pending_items, resolve_traces, work_items

__all__ = [
    "EvaluationResult",
    "WorkItem",
    "evaluate",
    "judge_item",
    "pending_items",
    "resolve_traces",
    "work_items",
]
