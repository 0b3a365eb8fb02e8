"""Judge traces that never enter the store: read from a JSONL or Parquet file, verdicts written as Parquet
part files into a folder (`accord judges run --input traces.parquet --output verdicts/`), on threads or on
Ray, by the same driver loop as `evaluate()`. Each part file is written whole, so a crash loses at most one
batch, and a re-run skips every trace whose verdict is already in the folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accord.errors import ConfigError
from accord.evaluation.claims import WorkQueue
from accord.evaluation.driver import drive
from accord.evaluation.engine import ENGINES, make_runner
from accord.evaluation.sinks import PartFileSink
from accord.evaluation.work import EvaluationResult, WorkItem, work_items
from accord.importing import read_traces
from accord.judges import Judge
from accord.parquet_files import read_rows


def _already_written(output: Path) -> set[tuple[str, str]]:
    """(trace id, judge key) of good verdicts in the output folder's part files."""
    if not output.exists() or not any(output.glob("*.parquet")):
        return set()
    return {
        (str(row.get("trace_id")), str(row.get("judge_key")))
        for _, row in read_rows(output)
        if not row.get("error_code")
    }


def judge_files(
    input_path: str | Path,
    judges: Sequence[Judge],
    output: str | Path,
    engine: str = "threads",
    address: str | None = None,
    concurrency: int = 4,
    show_progress: bool = True,
) -> EvaluationResult:
    """Judge traces from a JSONL or Parquet file and write the verdicts as Parquet part files in `output` (a
    folder), without using the store. A re-run skips traces whose verdicts are already in `output`.
    `concurrency`: threads, or Ray actors with `engine="ray"`."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} must be a folder (verdicts are written there as Parquet part files)")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    traces = read_traces(input_path)
    done = _already_written(output)
    result = EvaluationResult()
    items: list[WorkItem] = []
    for judge in judges:
        items += work_items(judge, [t for t in traces if (t.trace_id, judge.key) not in done])
    if not items:
        return result
    output.mkdir(parents=True, exist_ok=True)
    runner = make_runner(engine, judges, concurrency, address)
    drive(WorkQueue(items, result, claiming=False, chunk=runner.capacity), runner, PartFileSink(output), show_progress)
    return result
