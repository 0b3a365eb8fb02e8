"""The items of one run, claimed in the store a chunk at a time, so that two runs of the same judge version
(threads, Ray, two processes) never judge one trace twice, and a run that died gives its traces back."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence

from accord.entities import Feedback
from accord.evaluation.work import EvaluationResult, WorkItem, pending_items
from accord.store import get_store

CLAIM_LEASE_S = 60.0  # a claim not renewed for this long lapses: the run that held it is gone
CLAIM_CHUNK = 32  # traces claimed at a time (at least twice what is in flight)


class WorkQueue:
    """Items handed out one at a time, claimed first when `claiming` (verdicts go to the store). An item
    another run holds is set aside; `retry_held()` takes it over once that run stored its verdict (then it is
    reused) or its claim lapsed. Claims are renewed while the run lives (`renew()`)."""

    def __init__(self, items: list[WorkItem], result: EvaluationResult, claiming: bool, chunk: int) -> None:
        self._todo = deque(items)
        self._ready: deque[WorkItem] = deque()
        self.held: list[WorkItem] = []
        self.total = len(items)
        self.result = result
        self.claiming = claiming
        self.chunk = max(CLAIM_CHUNK, chunk)
        self.owner = uuid.uuid4().hex
        self._renewed = time.monotonic()

    def next(self) -> WorkItem | None:
        while not self._ready and self._todo:
            self._take([self._todo.popleft() for _ in range(min(self.chunk, len(self._todo)))])
        return self._ready.popleft() if self._ready else None

    def _take(self, items: list[WorkItem]) -> None:
        if not self.claiming:
            self._ready.extend(items)
            return
        store = get_store()
        by_judge: dict[str, list[WorkItem]] = defaultdict(list)
        for item in items:
            by_judge[item.judge.key].append(item)
        for key, group in by_judge.items():
            mine = store.claim_traces(key, [i.trace.trace_id for i in group], self.owner, CLAIM_LEASE_S)
            self.held += [i for i in group if i.trace.trace_id not in mine]
            claimed = [i for i in group if i.trace.trace_id in mine]
            still = pending_items(group[0].judge, claimed, self.result.reused)  # another run may have finished some
            left = {i.trace.trace_id for i in still}
            done = [(key, i.trace.trace_id) for i in claimed if i.trace.trace_id not in left]
            if done:
                store.release_claims(self.owner, done)
            self._ready.extend(still)

    def retry_held(self) -> None:
        items, self.held = self.held, []
        self._take(items)

    def renew(self) -> None:
        if self.claiming and time.monotonic() - self._renewed > CLAIM_LEASE_S / 4:
            get_store().renew_claims(self.owner, CLAIM_LEASE_S)
            self._renewed = time.monotonic()

    def release(self, verdicts: Sequence[Feedback]) -> None:
        if self.claiming and verdicts:
            get_store().release_claims(
                self.owner, [(v.metadata.get("judge_key", ""), v.trace_id or "") for v in verdicts]
            )

    def release_all(self) -> None:
        if self.claiming:
            get_store().release_claims(self.owner)
