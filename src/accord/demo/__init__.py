"""The example data set shipped with accord (support answers of a fictional outdoor-gear shop) and the demo."""

from pathlib import Path

DATA = Path(__file__).parent / "support_traces.jsonl"
POLICY = Path(__file__).parent / "POLICY.md"
JUDGE_NAME = "policy_compliant"
