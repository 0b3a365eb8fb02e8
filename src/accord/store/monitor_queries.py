"""What `accord monitor` reads and writes: which traces a judge version has judged well, and the rolling
figures of each cycle."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, Text, cast, insert, select

from accord.store import schema as t


class MonitorQueries:
    engine: Engine

    def judged_trace_ids(self, experiment_id: str, name: str, judge_key: str, source_type: str) -> set[str]:
        """Traces of the experiment with a good (not errored, valid) verdict from this judge version."""
        a = t.assessments
        query = (
            select(a.c.trace_id)
            .distinct()
            .join(t.traces, t.traces.c.trace_id == a.c.trace_id)
            .where(
                t.traces.c.experiment_id == experiment_id,
                a.c.name == name,
                a.c.source_type == source_type,
                a.c.error.is_(None),
                a.c.valid.is_(True),
                a.c.meta["judge_key"].as_string() == judge_key,
            )
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def add_monitor_point(
        self, monitor_key: str, experiment_id: str, judge_key: str, time_ms: int, figures: dict[str, Any]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.monitor_points).values(
                    monitor_key=monitor_key,
                    experiment_id=experiment_id,
                    judge_key=judge_key,
                    time_ms=time_ms,
                    figures=figures,
                )
            )

    def monitor_points(
        self, experiment_id: str, judge_key: str | None = None, monitor_key: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The newest points, oldest first: {time_ms, monitor_key, judge_key, figures}."""
        m = t.monitor_points.c
        query = select(m.time_ms, m.monitor_key, m.judge_key, cast(m.figures, Text)).where(
            m.experiment_id == experiment_id
        )
        if judge_key is not None:
            query = query.where(m.judge_key == judge_key)
        if monitor_key is not None:
            query = query.where(m.monitor_key == monitor_key)
        query = query.order_by(m.time_ms.desc(), m.point_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [
            {"time_ms": r[0], "monitor_key": r[1], "judge_key": r[2], "figures": json.loads(r[3])}
            for r in reversed(rows)
        ]
