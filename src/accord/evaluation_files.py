"""Judge traces that never enter the store: read from a JSONL or Parquet file, verdicts written as Parquet
part files into a folder (`accord judge run --input traces.parquet --output verdicts/`), on the thread pool
or on Ray. Each part file is written whole, so a crash loses at most one chunk, and a re-run skips every
trace whose verdict is already in the folder."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from accord.entities import Feedback
from accord.errors import ConfigError
from accord.evaluation import EvaluationResult, evaluate, work_items
from accord.exporting import VERDICT_JSON_COLUMNS, verdict_row
from accord.importing import read_traces
from accord.judges import Judge
from accord.parquet_files import read_rows, write_rows

WRITE_EVERY = 200  # verdicts per part file


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
    traces = read_traces(input_path)
    done = _already_written(output)
    result = EvaluationResult()
    output.mkdir(parents=True, exist_ok=True)
    part = 0

    def write(verdicts: list[Feedback]) -> None:
        nonlocal part
        if verdicts:
            part += 1
            name = f"part-{time.strftime('%Y%m%d%H%M%S')}-{part:05d}-{uuid.uuid4().hex[:6]}.parquet"
            write_rows([verdict_row(v) for v in verdicts], VERDICT_JSON_COLUMNS, output / name)

    for judge in judges:
        todo = [t for t in traces if (t.trace_id, judge.key) not in done]
        if engine == "ray":
            from accord.evaluation_ray import progress_bar, verdicts_on_ray

            items = work_items(judge, todo)
            buffer: list[Feedback] = []
            with progress_bar(show_progress) as progress:
                task = progress.add_task("judging", total=len(items))
                for verdict in verdicts_on_ray([judge], items, concurrency, 4, 16, address):
                    result.verdicts.append(verdict)
                    buffer.append(verdict)
                    progress.advance(task)
                    if len(buffer) >= WRITE_EVERY:
                        write(buffer)
                        buffer = []
                write(buffer)
        else:
            for start in range(0, len(todo), WRITE_EVERY):  # one part file per chunk: a crash loses one chunk
                chunk = evaluate(
                    todo[start : start + WRITE_EVERY],
                    [judge],
                    concurrency,
                    log_verdicts=False,
                    show_progress=show_progress,
                )
                result.verdicts += chunk.verdicts
                write(chunk.verdicts)
    return result
