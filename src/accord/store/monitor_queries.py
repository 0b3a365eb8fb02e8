"""What `accord monitor` reads and writes: which traces a judge version has judged well, and the rolling
figures of each cycle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Text, cast, delete, func, insert, select, update

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
        self,
        monitor_key: str,
        experiment_id: str,
        judge_key: str,
        time_ms: int,
        figures: dict[str, Any],
        alerts: Sequence[dict[str, Any]] = (),
    ) -> None:
        """The cycle's figures, and the alerts it raised for a webhook, in one transaction: a monitor killed
        right after still delivers them on restart."""
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
            if alerts:
                conn.execute(
                    insert(t.alert_outbox),
                    [
                        {
                            "monitor_key": monitor_key,
                            "payload": payload,
                            "created_ms": time_ms,
                            "attempts": 0,
                            "next_try_ms": time_ms,
                            "last_error": None,
                        }
                        for payload in alerts
                    ],
                )

    def due_alerts(self, monitor_key: str, now_ms: int) -> list[tuple[int, dict[str, Any], int]]:
        """(id, payload, attempts so far) of the alerts waiting for delivery whose next try is due, oldest first."""
        o = t.alert_outbox.c
        query = (
            select(o.alert_id, cast(o.payload, Text), o.attempts)
            .where(o.monitor_key == monitor_key, o.next_try_ms <= now_ms)
            .order_by(o.alert_id)
        )
        with self.engine.connect() as conn:
            return [(r[0], json.loads(r[1]), r[2]) for r in conn.execute(query)]

    def pending_alerts(self, monitor_key: str) -> int:
        o = t.alert_outbox.c
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(o.monitor_key == monitor_key)).scalar() or 0)

    def alert_delivered(self, alert_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.alert_outbox).where(t.alert_outbox.c.alert_id == alert_id))

    def alert_failed(self, alert_id: int, next_try_ms: int, error: str) -> None:
        o = t.alert_outbox
        with self.engine.begin() as conn:
            conn.execute(
                update(o)
                .where(o.c.alert_id == alert_id)
                .values(attempts=o.c.attempts + 1, next_try_ms=next_try_ms, last_error=error[:500])
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
