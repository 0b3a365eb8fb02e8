"""What the review queue reads, in as few queries as it can: the traces of an experiment with their tags,
the feedback of one name on them (compact rows, not whole assessments), and whether any of that changed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Engine, Select, Text, cast, func, or_, select

from accord.store import schema as t
from accord.store.chunks import chunks


class FeedbackRow(NamedTuple):
    trace_id: str
    source_type: str
    source_id: str
    value_json: str | None  # the value as JSON text
    errored: bool
    judge_key: str | None
    create_time_ms: int
    confidence: float | None = None  # an aligned judge's confidence in its verdict
    overruled: bool | None = None  # its checks overruled the judge's own verdict


class ReviewQueries:
    engine: Engine

    def feedback_stamp(self, experiment_id: str, name: str) -> tuple[int, int, int | None]:
        """(traces in the experiment, assessments of this name, their newest update): two indexed counts
        that tell whether anything the queue shows may have changed."""
        with self.engine.connect() as conn:
            traces = conn.execute(
                select(func.count()).select_from(t.traces).where(t.traces.c.experiment_id == experiment_id)
            ).scalar_one()
            count, newest = conn.execute(
                select(func.count(), func.max(t.assessments.c.last_update_time_ms)).where(t.assessments.c.name == name)
            ).one()
        return (traces, count, newest)

    def trace_times_and_tags(self, experiment_id: str) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]]]:
        """(trace id, request time) of every trace of the experiment, and its (trace id, key, value) tags."""
        with self.engine.connect() as conn:
            times = [
                (row[0], row[1])
                for row in conn.execute(
                    select(t.traces.c.trace_id, t.traces.c.request_time_ms).where(
                        t.traces.c.experiment_id == experiment_id
                    )
                )
            ]
            tags = select(t.trace_tags.c.trace_id, t.trace_tags.c.key, t.trace_tags.c.value).join(
                t.traces, t.traces.c.trace_id == t.trace_tags.c.trace_id
            )
            pairs = [(r[0], r[1], r[2]) for r in conn.execute(tags.where(t.traces.c.experiment_id == experiment_id))]
        return times, pairs

    def _feedback_query(self, experiment_id: str, name: str, *conditions: Any) -> Select[Any]:
        a = t.assessments
        return (
            select(
                a.c.trace_id,
                a.c.source_type,
                a.c.source_id,
                cast(a.c.value, Text),
                a.c.error.is_not(None),
                a.c.meta["judge_key"].as_string(),
                a.c.create_time_ms,
                a.c.meta["confidence"].as_float(),
                a.c.meta["overruled_judge"].as_boolean(),
            )
            .join(t.traces, t.traces.c.trace_id == a.c.trace_id)
            .where(
                t.traces.c.experiment_id == experiment_id,
                a.c.name == name,
                a.c.kind == "feedback",
                # a verdict a human overrode is still what the judge said
                or_(a.c.valid.is_(True), a.c.source_type == "LLM_JUDGE"),
                *conditions,
            )
            .order_by(a.c.create_time_ms)
        )

    def feedback_rows(
        self, experiment_id: str, name: str, trace_ids: Sequence[str] | None = None
    ) -> Iterator[FeedbackRow]:
        """Feedback of this name on the experiment's traces (or on the given ones), oldest first per batch."""
        with self.engine.connect() as conn:
            if trace_ids is None:
                for row in conn.execute(self._feedback_query(experiment_id, name)):
                    yield FeedbackRow(*row)
                return
            for chunk in chunks(list(trace_ids)):
                query = self._feedback_query(experiment_id, name, t.assessments.c.trace_id.in_(chunk))
                for row in conn.execute(query):
                    yield FeedbackRow(*row)

    def traces_with_changed_feedback(self, name: str, since_ms: int) -> list[str]:
        """Ids of traces whose feedback of this name changed at or after `since_ms` (any experiment)."""
        a = t.assessments
        with self.engine.connect() as conn:
            query = select(a.c.trace_id).distinct().where(a.c.name == name, a.c.last_update_time_ms >= since_ms)
            return list(conn.execute(query).scalars())

    def feedback_names(self, experiment_id: str, limit: int = 50) -> list[tuple[str, int]]:
        """The feedback names used on the experiment's traces, most used first, with how many traces."""
        a = t.assessments
        query = (
            select(a.c.name, func.count(func.distinct(a.c.trace_id)))
            .join(t.traces, t.traces.c.trace_id == a.c.trace_id)
            .where(t.traces.c.experiment_id == experiment_id, a.c.kind == "feedback", a.c.valid.is_(True))
            .group_by(a.c.name)
            .order_by(func.count(func.distinct(a.c.trace_id)).desc(), a.c.name)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(row[0], int(row[1])) for row in conn.execute(query)]

    def feedback_values(self, experiment_id: str, name: str, limit: int = 20) -> list[str]:
        """Distinct values (as JSON text) given as feedback of this name on the experiment's traces."""
        a = t.assessments
        value = cast(a.c.value, Text)
        query = (
            select(value)
            .distinct()
            .join(t.traces, t.traces.c.trace_id == a.c.trace_id)
            .where(
                t.traces.c.experiment_id == experiment_id,
                a.c.name == name,
                a.c.kind == "feedback",
                a.c.error.is_(None),
                a.c.value.is_not(None),
            )
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return sorted(str(v) for v in conn.execute(query).scalars() if v is not None)
