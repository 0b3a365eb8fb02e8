"""The example data set shipped with accord (support answers of a fictional outdoor-gear shop), the generic
judge the demo starts from, and the demo's split. `accord demo` (`accord.cli.demo`) runs the whole loop on it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from accord.align.workflow import split_by_label
from accord.entities import Trace
from accord.judges import Judge, make_judge

DATA = Path(__file__).parent / "support_traces.jsonl"
POLICY = Path(__file__).parent / "POLICY.md"
JUDGE_NAME = "policy_compliant"

GENERIC_INSTRUCTIONS = (
    "You review answers written by the customer-support assistant of an outdoor-gear shop. Decide whether "
    "the answer in {{ outputs }} to the customer message in {{ inputs }} is acceptable to send: helpful, "
    "accurate, polite and compliant with the shop's support policy. Answer 'yes' or 'no'."
)


def demo_judge(model: str) -> Judge:
    return make_judge(
        name=JUDGE_NAME,
        instructions=GENERIC_INSTRUCTIONS,
        model=model,
        feedback_value_type=Literal["yes", "no"],
        description="Is this support answer acceptable to send?",
    )


def demo_split(traces: Sequence[Trace], test_size: int, seed: int = 7) -> tuple[list[Trace], list[Trace]]:
    """Training and held-out test traces with the same label mix, the same every run: alignment's own
    stratified split (`accord.align.workflow.split_by_label`) over the traces in the data file's order."""
    if not 0 < test_size < len(traces):
        raise ValueError(f"the test split needs between 1 and {len(traces) - 1} traces, not {test_size}")
    ordered = sorted(traces, key=lambda t: t.tags.get("source_trace_id", t.trace_id))
    return split_by_label(ordered, JUDGE_NAME, test_size / len(traces), seed)
