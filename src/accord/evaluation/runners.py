"""Where verdicts are computed: this process's threads, or Ray actors. Both take items one at a time and
hand back finished verdicts, so one driver loop (`driver.py`) claims, stores, stops and waits for both."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from accord.entities import Feedback
from accord.evaluation.work import WorkItem, judge_item


class Runner(Protocol):
    label: str  # what the progress bar says
    capacity: int  # items in flight at most: enough to keep every worker busy, few enough to stop promptly

    def submit(self, item: WorkItem) -> None: ...

    def in_flight(self) -> int: ...

    def finished(self, timeout: float) -> list[Feedback]:
        """The verdicts finished so far, waiting up to `timeout` seconds for the first one."""
        ...

    def close(self) -> None:
        """Stop at once: items not started are dropped (they stay unjudged for a re-run)."""
        ...


class ThreadRunner:
    label = "judging"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)
        self.capacity = 2 * self.concurrency
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="accord-judge")
        self._running: set[Future[Feedback]] = set()

    def submit(self, item: WorkItem) -> None:
        self._running.add(self._executor.submit(judge_item, item))

    def in_flight(self) -> int:
        return len(self._running)

    def finished(self, timeout: float) -> list[Feedback]:
        done, self._running = wait(self._running, timeout=timeout, return_when=FIRST_COMPLETED)
        return [future.result() for future in done]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
