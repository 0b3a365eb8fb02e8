"""Label schemas in the store: one value type per (experiment, feedback name)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from accord.entities import now_ms
from accord.store import schema as t


class LabelSchemaQueries:
    engine: Engine

    def set_label_schema(self, experiment_id: str, name: str, value_type: str) -> None:
        """Declare (or replace) the value type of feedback `name` in the experiment, in one transaction."""
        s = t.label_schemas
        with self.engine.begin() as conn:
            conn.execute(delete(s).where(s.c.experiment_id == experiment_id, s.c.name == name))
            row = {"experiment_id": experiment_id, "name": name, "value_type": value_type, "update_time_ms": now_ms()}
            conn.execute(s.insert().values(**row))

    def delete_label_schema(self, experiment_id: str, name: str) -> int:
        s = t.label_schemas
        with self.engine.begin() as conn:
            return conn.execute(delete(s).where(s.c.experiment_id == experiment_id, s.c.name == name)).rowcount

    def label_schemas(self, experiment_id: str) -> dict[str, str]:
        """feedback name -> its declared value type, for the experiment."""
        s = t.label_schemas
        query = select(s.c.name, s.c.value_type).where(s.c.experiment_id == experiment_id).order_by(s.c.name)
        with self.engine.connect() as conn:
            return {row.name: row.value_type for row in conn.execute(query)}

    def label_schema_of_trace(self, trace_id: str, name: str) -> str | None:
        """The value type declared for feedback `name` in the trace's experiment, in one query; None if none."""
        s, traces = t.label_schemas, t.traces
        query = (
            select(s.c.value_type)
            .join(traces, traces.c.experiment_id == s.c.experiment_id)
            .where(traces.c.trace_id == trace_id, s.c.name == name)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()
