"""A user-written optimizer, loaded by tests through `--optimizer tests.align.custom_optimizer:AppendRules`."""

from __future__ import annotations

from accord.align import AlignmentOptimizer
from accord.align.labels import collect_labels
from accord.judges import Judge, make_judge


class AppendRules(AlignmentOptimizer):
    """Appends the experts' distinct rationales to the instructions."""

    def __init__(self, model: str | None = None, **kwargs: object) -> None:
        self.model = model

    def align(self, judge: Judge, traces: list) -> Judge:
        labels = collect_labels(judge.name, judge.value_type, traces)
        reasons = sorted({label.rationale for label in labels.labels if label.rationale})
        return make_judge(
            name=judge.name,
            instructions=judge.instructions + "\nExperts' reasons:\n" + "\n".join(f"- {r}" for r in reasons),
            model=self.model or judge.model,
            feedback_value_type=judge.value_type,
        )
