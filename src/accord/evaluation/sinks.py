"""Where finished verdicts go: the store (releasing the run's claims), Parquet part files in a folder, or
nowhere (returned only). The driver hands them over in batches; each batch is written whole."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from accord.entities import Feedback
from accord.evaluation.claims import WorkQueue
from accord.store import get_store


class Sink(Protocol):
    every: int  # verdicts per write
    seconds: float | None  # and at least this often (None: only when `every` is reached and at the end)

    def write(self, verdicts: Sequence[Feedback]) -> None: ...


class NoSink:
    every, seconds = 1_000_000, None

    def write(self, verdicts: Sequence[Feedback]) -> None:
        return None


class StoreSink:
    """Verdicts logged in one transaction per batch; their traces' claims released after. Traces given as
    objects that are not stored get their verdicts returned but not logged."""

    every, seconds = 200, 1.0

    def __init__(self, stored: set[str], work: WorkQueue) -> None:
        self.stored = stored
        self.work = work

    def write(self, verdicts: Sequence[Feedback]) -> None:
        loggable = [v for v in verdicts if v.trace_id in self.stored]
        if loggable:
            get_store().log_assessments(loggable)
        self.work.release(loggable)


class PartFileSink:
    """One Parquet part file per batch in a folder: a crash loses at most one batch, and a re-run skips the
    traces whose verdicts are already there."""

    every, seconds = 200, None

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.part = 0

    def write(self, verdicts: Sequence[Feedback]) -> None:
        from accord.exporting import VERDICT_JSON_COLUMNS, verdict_row
        from accord.parquet_files import write_rows

        self.part += 1
        name = f"part-{time.strftime('%Y%m%d%H%M%S')}-{self.part:05d}-{uuid.uuid4().hex[:6]}.parquet"
        write_rows([verdict_row(v) for v in verdicts], VERDICT_JSON_COLUMNS, self.folder / name)
