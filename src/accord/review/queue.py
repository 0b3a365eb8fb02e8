"""The review queue: an experiment's traces ordered so the most useful ones to review come first.

Order: traces without HUMAN feedback first; among them, traces where the judge abstained (below the confidence
that keeps its agreement target: the labels that teach it most), then where judge versions disagree, then
where an aligned judge's checks overruled its own verdict, then where the judge's verdict is an error (it was
unsure), then traces no judge has seen, then the rest; the least confident verdicts first within each group,
then the newest. Computing that order reads every verdict of the judge's name, too slow to do per
request with 100,000 traces, so each queue keeps an in-memory index and checks at most once a second, with two
indexed counts, whether anything changed. Changed feedback is applied in the background by re-reading just the
traces it touches (an index on assessment name and update time finds them); new or deleted traces, and every
five minutes regardless, trigger a full rebuild. The last order is served meanwhile."""

from __future__ import annotations

import bisect
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from accord.review.presenting import value_label
from accord.store import Store
from accord.store.review_queries import FeedbackRow

PAGE_SIZE = 50
CHECK_EVERY_S = 1.0  # how stale the order may get (saves through this server show at once regardless)
FULL_REBUILD_EVERY_S = 300.0  # changes are applied incrementally in between
CLOCK_SLACK_MS = 5_000  # writers on other machines may stamp updates with a clock running a little behind
MAX_INCREMENTAL = 5_000  # more changed traces than this: a full rebuild is as cheap
MAX_TAG_CHOICES = 200
_FILTER_CACHE_SIZE = 16


@dataclass
class QueueEntry:
    trace_id: str
    request_time_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    reviewers: set[str] = field(default_factory=set)  # source ids of valid HUMAN feedback
    verdict: Any = None  # the newest valid judge verdict's value
    verdict_time_ms: int = -1
    verdict_error: bool = False
    abstained: bool = False  # the newest verdict is an abstention (no value, not an error)
    confidence: float | None = None  # the newest verdict's confidence, when an aligned judge gave one
    overruled: bool = False  # the newest verdict's checks overruled the judge's own verdict
    judged: bool = False
    versions: dict[str, str] = field(default_factory=dict)  # judge key -> its newest verdict, as JSON text

    @property
    def disagreement(self) -> bool:
        return len(set(self.versions.values())) > 1

    @property
    def priority(self) -> int:
        if self.abstained:
            return 5
        if self.disagreement:
            return 4
        if self.overruled:
            return 3
        if self.verdict_error:
            return 2
        return 0 if self.judged else 1

    @property
    def reason(self) -> str:
        return {
            5: "judge abstained (below its confidence threshold)",
            4: "judge versions disagree",
            3: "the checks overruled the judge's own verdict",
            2: "judge unsure (no usable verdict)",
            1: "not judged yet",
        }.get(self.priority, "")

    def sort_key(self) -> tuple[int, int, float, int]:
        # within a group, the least confident verdicts first: their labels teach the judge most
        sure = 1.0 if self.confidence is None else self.confidence
        return (1 if self.reviewers else 0, -self.priority, sure, -self.request_time_ms)


@dataclass
class QueuePage:
    entries: list[QueueEntry]
    total: int  # traces matching the filters
    unreviewed: int  # of those, without any HUMAN feedback
    offset: int


class ReviewQueue:
    """The ordered queue of one experiment for one feedback name."""

    def __init__(self, store: Store, experiment_id: str, name: str) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self.name = name
        self._lock = threading.Lock()
        self._entries: list[QueueEntry] = []
        self._by_id: dict[str, QueueEntry] = {}
        self._tags: list[str] = []
        self._stamp: tuple[Any, ...] | None = None
        self._filtered: dict[tuple[str | None, str | None], list[QueueEntry]] = {}
        self._rebuilding = False
        self._checked = 0.0
        self._full_at = 0.0
        self.last_refresh = ""
        self.last_build_seconds = 0.0

    # change detection --------------------------------------------------------------------------------
    def _current_stamp(self) -> tuple[Any, ...]:
        return self.store.feedback_stamp(self.experiment_id, self.name)

    @staticmethod
    def _apply(entry: QueueEntry, row: FeedbackRow) -> None:
        if row.source_type == "HUMAN":
            if not row.errored:
                entry.reviewers.add(row.source_id)
        elif row.source_type == "LLM_JUDGE":
            entry.judged = True
            if row.create_time_ms >= entry.verdict_time_ms:
                entry.verdict_time_ms = row.create_time_ms
                entry.verdict_error = bool(row.errored)
                entry.verdict = None if row.errored or row.value_json is None else json.loads(row.value_json)
                entry.abstained = not row.errored and row.value_json in (None, "null")
                entry.confidence = None if row.errored else row.confidence
                entry.overruled = bool(row.overruled) and not row.errored
            if not row.errored and row.value_json not in (None, "null"):
                entry.versions[row.judge_key or row.source_id] = row.value_json

    def _load(self) -> tuple[list[QueueEntry], dict[str, QueueEntry], list[str]]:
        """Every trace of the experiment with its feedback of this name, in queue order."""
        times, tags = self.store.trace_times_and_tags(self.experiment_id)
        by_id = {trace_id: QueueEntry(trace_id, request_time) for trace_id, request_time in times}
        tag_pairs: set[str] = set()
        for trace_id, key, value in tags:
            by_id[trace_id].tags[key] = value
            if len(tag_pairs) < 10 * MAX_TAG_CHOICES:
                tag_pairs.add(f"{key}={value}")
        for row in self.store.feedback_rows(self.experiment_id, self.name):
            self._apply(by_id[row.trace_id], row)
        entries = sorted(by_id.values(), key=QueueEntry.sort_key)
        return entries, by_id, sorted(tag_pairs)[:MAX_TAG_CHOICES]

    def _update(self, since_ms: int) -> bool:
        """Re-read only the traces whose feedback changed since `since_ms` (by the name-and-update-time
        index) and move them to their new place; False when that is not enough and a full rebuild is due."""
        changed = self.store.traces_with_changed_feedback(self.name, since_ms - CLOCK_SLACK_MS)
        if len(changed) > MAX_INCREMENTAL:
            return False
        with self._lock:
            known = self._by_id
        fresh: dict[str, QueueEntry] = {}
        for trace_id in changed:  # ids of other experiments' traces are not in this index: skipped
            old = known.get(trace_id)
            if old is not None:
                fresh[trace_id] = QueueEntry(trace_id, old.request_time_ms, old.tags)
        for row in self.store.feedback_rows(self.experiment_id, self.name, list(fresh)):
            self._apply(fresh[row.trace_id], row)
        with self._lock:
            entries = [e for e in self._entries if e.trace_id not in fresh]
            for entry in fresh.values():
                bisect.insort(entries, entry, key=QueueEntry.sort_key)
            self._entries = entries
            self._by_id = {**self._by_id, **fresh}
            self._filtered.clear()
        return True

    def _rebuild(self, stamp: tuple[Any, ...]) -> None:
        started = time.perf_counter()
        previous = self._stamp
        incremental = (
            previous is not None
            and previous[0] == stamp[0]  # same number of traces: none added or deleted
            and previous[2] is not None
            and time.monotonic() - self._full_at < FULL_REBUILD_EVERY_S
            and self._update(previous[2])
        )
        if not incremental:
            entries, by_id, tags = self._load()
            with self._lock:
                self._entries, self._by_id, self._tags = entries, by_id, tags
                self._filtered.clear()
            self._full_at = time.monotonic()
        self.last_refresh = "incremental" if incremental else "full"
        with self._lock:
            self._stamp = stamp
            self._rebuilding = False
        self.last_build_seconds = time.perf_counter() - started

    def refresh(self, wait: bool = False) -> None:
        """Bring the order up to date: at once when there is none yet (or `wait`), else in the background."""
        now = time.monotonic()
        with self._lock:
            if self._stamp is not None and not wait and now - self._checked < CHECK_EVERY_S:
                return
            self._checked = now
        stamp = self._current_stamp()
        with self._lock:
            if stamp == self._stamp or self._rebuilding:
                return
            self._rebuilding = True
            first = self._stamp is None
        if first or wait:
            try:
                self._rebuild(stamp)
            except BaseException:
                with self._lock:
                    self._rebuilding = False
                raise
        else:
            threading.Thread(target=self._rebuild_quietly, args=(stamp,), daemon=True).start()

    def _rebuild_quietly(self, stamp: tuple[Any, ...]) -> None:
        try:
            self._rebuild(stamp)
        finally:
            with self._lock:
                self._rebuilding = False

    # reading -----------------------------------------------------------------------------------------
    def _matching(self, tag: str | None, judge_says: str | None) -> list[QueueEntry]:
        key = (tag, judge_says)
        with self._lock:
            cached = self._filtered.get(key)
            entries = self._entries
        if cached is not None:
            return cached
        tag_key, _, tag_value = (tag or "").partition("=")
        found = [
            e
            for e in entries
            if (not tag or e.tags.get(tag_key.strip()) == tag_value.strip())
            and (judge_says is None or (e.verdict is not None and value_label(e.verdict) == judge_says))
        ]
        with self._lock:
            if entries is self._entries:
                if len(self._filtered) >= _FILTER_CACHE_SIZE:
                    self._filtered.clear()
                self._filtered[key] = found
        return found

    def page(
        self, offset: int = 0, limit: int = PAGE_SIZE, tag: str | None = None, judge_says: str | None = None
    ) -> QueuePage:
        self.refresh()
        matching = self._matching(tag, judge_says)
        unreviewed = bisect.bisect_left(matching, 1, key=lambda e: 1 if e.reviewers else 0)  # reviewed sort last
        return QueuePage(matching[offset : offset + limit], len(matching), unreviewed, offset)

    def next_for(
        self, reviewer: str, after: str | None = None, tag: str | None = None, judge_says: str | None = None
    ) -> str | None:
        """The first trace in queue order this reviewer has not reviewed yet, other than `after`."""
        self.refresh()
        for entry in self._matching(tag, judge_says):
            if entry.trace_id != after and reviewer not in entry.reviewers:
                return entry.trace_id
        return None

    def position(self, trace_id: str, tag: str | None = None, judge_says: str | None = None) -> tuple[int, int]:
        """(place of the trace in queue order from 1, or 0 when it is not in this queue; traces in the queue)."""
        self.refresh()
        matching = self._matching(tag, judge_says)
        place = next((i for i, entry in enumerate(matching, start=1) if entry.trace_id == trace_id), 0)
        return place, len(matching)

    def tag_choices(self) -> list[str]:
        """The experiment's tags as key=value, for the filter (the first few hundred, computed per rebuild)."""
        with self._lock:
            return self._tags

    def note_feedback(self, trace_id: str, reviewer: str) -> None:
        """Show a review saved through this server at once, before the next rebuild re-sorts the queue."""
        with self._lock:
            entry = self._by_id.get(trace_id)
            if entry is not None:
                entry.reviewers.add(reviewer)


class QueueRegistry:
    """One queue per (experiment, feedback name), shared by every request of a server."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queues: dict[tuple[str, str], ReviewQueue] = {}
        self._lock = threading.Lock()

    def get(self, experiment_id: str, name: str) -> ReviewQueue:
        with self._lock:
            queue = self._queues.get((experiment_id, name))
            if queue is None:
                queue = self._queues[(experiment_id, name)] = ReviewQueue(self.store, experiment_id, name)
            return queue
