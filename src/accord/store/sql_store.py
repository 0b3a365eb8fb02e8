"""Experiments, traces and assessments in one SQL database; every write is one transaction."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, delete, func, select, type_coerce, update
from sqlalchemy.exc import IntegrityError, OperationalError

from accord.entities import Expectation, Experiment, Feedback, Trace, now_ms
from accord.errors import NotFoundError
from accord.store import schema as t
from accord.store.chunks import chunks
from accord.store.claims import ClaimQueries
from accord.store.engine import get_engine
from accord.store.label_schemas import LabelSchemaQueries
from accord.store.monitor_queries import MonitorQueries
from accord.store.review_queries import ReviewQueries
from accord.store.rows import assessment_to_row, row_to_assessment, row_to_trace, trace_to_row

log = logging.getLogger("accord.store")
_MERGE_LOCKS: dict[str, threading.Lock] = {}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes, bytearray)) else value


@dataclass
class JudgeRow:
    """One registered judge version as stored; `damaged` says why its JSON could not be read."""

    name: str
    version: int
    experiment_id: str | None
    tags: dict[str, str]
    create_time_ms: int
    spec: dict[str, Any]
    damaged: str | None = None


class SqlStore(ClaimQueries, ReviewQueries, MonitorQueries, LabelSchemaQueries):
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = get_engine(uri)
        # writers in one process take turns (every store object for this URI shares the lock); other processes retry
        self._merge_lock = _MERGE_LOCKS.setdefault(uri, threading.Lock())

    # experiments -------------------------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        existing = self.get_experiment_by_name(name)
        if existing is not None:
            return existing
        experiment = Experiment(experiment_id=uuid.uuid4().hex[:16], name=name)
        try:
            with self.engine.begin() as conn:
                conn.execute(t.experiments.insert().values(**experiment.model_dump(exclude={"schema_version"})))
        except IntegrityError:  # created by another process meanwhile
            found = self.get_experiment_by_name(name)
            assert found is not None
            return found
        return experiment

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.name == name)).first()
        return Experiment(**row._mapping) if row else None

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.experiment_id == experiment_id)).first()
        if row is None:
            raise NotFoundError(f"no experiment with id {experiment_id!r}")
        return Experiment(**row._mapping)

    def list_experiments(self) -> list[Experiment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.experiments).order_by(t.experiments.c.create_time_ms)).all()
        return [Experiment(**r._mapping) for r in rows]

    def delete_experiment(self, experiment_id: str) -> int:
        """Delete an experiment with its traces, their tags and assessments, and its monitor points, in one
        transaction; returns how many traces went with it."""
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(select(t.traces.c.trace_id).where(t.traces.c.experiment_id == experiment_id)).scalars()
            )
            self._delete_trace_rows(conn, ids)
            conn.execute(t.monitor_points.delete().where(t.monitor_points.c.experiment_id == experiment_id))
            conn.execute(t.label_schemas.delete().where(t.label_schemas.c.experiment_id == experiment_id))
            conn.execute(t.experiments.delete().where(t.experiments.c.experiment_id == experiment_id))
        return len(ids)

    def resolve_experiment(self, name_or_id: str) -> Experiment:
        """An experiment by name, else by id; a clear error listing the known names otherwise."""
        found = self.get_experiment_by_name(name_or_id)
        if found is not None:
            return found
        try:
            return self.get_experiment(name_or_id)
        except NotFoundError:
            names = ", ".join(e.name for e in self.list_experiments()) or "none yet"
            raise NotFoundError(f"no experiment named {name_or_id!r} (known: {names})") from None

    # traces ------------------------------------------------------------------------------------------
    def insert_traces(self, traces: Sequence[Trace], experiment_id: str, replace: bool = False) -> None:
        """Insert traces with their assessments, all or nothing. `replace` overwrites same-id traces."""
        with self.engine.begin() as conn:
            if replace:
                ids = [tr.trace_id for tr in traces]
                for chunk in chunks(ids):
                    conn.execute(t.trace_tags.delete().where(t.trace_tags.c.trace_id.in_(chunk)))
                    conn.execute(t.traces.delete().where(t.traces.c.trace_id.in_(chunk)))
            if traces:
                self._insert_rows(conn, traces, experiment_id)

    @staticmethod
    def _insert_rows(conn: Any, traces: Sequence[Trace], experiment_id: str) -> None:
        conn.execute(t.traces.insert(), [trace_to_row(tr, experiment_id) for tr in traces])
        tag_rows = [{"trace_id": tr.trace_id, "key": k, "value": str(v)} for tr in traces for k, v in tr.tags.items()]
        if tag_rows:
            conn.execute(t.trace_tags.insert(), tag_rows)
        assessment_rows = [
            assessment_to_row(a.model_copy(update={"trace_id": tr.trace_id})) for tr in traces for a in tr.assessments
        ]
        if assessment_rows:
            conn.execute(t.assessments.insert(), assessment_rows)

    @staticmethod
    def _update_row(conn: Any, trace: Trace) -> None:
        row = trace_to_row(trace, "")
        row.pop("experiment_id")
        conn.execute(update(t.traces).where(t.traces.c.trace_id == trace.trace_id).values(**row))
        conn.execute(t.trace_tags.delete().where(t.trace_tags.c.trace_id == trace.trace_id))
        if trace.tags:
            conn.execute(
                t.trace_tags.insert(),
                [{"trace_id": trace.trace_id, "key": k, "value": str(v)} for k, v in trace.tags.items()],
            )

    @staticmethod
    def _read_traces(conn: Any, trace_ids: list[str]) -> list[Trace]:
        """The stored traces among these ids (without their assessments), read in `conn`'s transaction."""
        found = []
        for chunk in chunks(trace_ids):
            for row in conn.execute(select(t.traces).where(t.traces.c.trace_id.in_(chunk))):
                found.append(row_to_trace(row, []))
        return found

    def merge_traces(
        self, experiment_id: str, trace_ids: Sequence[str], merge: Callable[[dict[str, Trace]], list[Trace]]
    ) -> tuple[int, int]:
        """Read the stored traces with these ids, let `merge` build their new versions, and write them, in one
        transaction: a request is applied whole or not at all, and two writers merging spans into one trace
        at once never lose each other's spans (the loser of a race retries on what the winner wrote). Returns
        (new traces, updated traces)."""
        delay = 0.01
        for attempt in range(8):
            try:
                with self._merge_lock, self.engine.begin() as conn:
                    if self.engine.dialect.name == "postgresql":  # lock the rows this request merges into
                        conn.execute(
                            select(t.traces.c.trace_id)
                            .where(t.traces.c.trace_id.in_(list(trace_ids)))
                            .with_for_update()
                        )
                    stored = {tr.trace_id: tr for tr in self._read_traces(conn, list(trace_ids))}
                    merged = merge(stored)
                    new = [tr for tr in merged if tr.trace_id not in stored]
                    changed = [tr for tr in merged if tr.trace_id in stored]
                    if new:
                        self._insert_rows(conn, new, experiment_id)
                    for trace in changed:
                        self._update_row(conn, trace)
                    return len(new), len(changed)
            except (IntegrityError, OperationalError) as exc:  # another writer inserted or locked it first
                if attempt == 7:
                    raise
                log.debug("merging traces: retrying after %s", type(exc).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def update_traces(self, traces: Sequence[Trace]) -> None:
        """Rewrite stored traces' spans, inputs, outputs, status, times, session and tags in one transaction;
        their assessments stay as they are (spans of one trace may arrive in several batches)."""
        with self.engine.begin() as conn:
            for trace in traces:
                self._update_row(conn, trace)

    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        """Delete traces with their tags and assessments, in one transaction; returns how many were deleted."""
        with self.engine.begin() as conn:
            return self._delete_trace_rows(conn, trace_ids)

    @staticmethod
    def _delete_trace_rows(conn: Any, trace_ids: Sequence[str]) -> int:
        deleted = 0
        for chunk in chunks(list(trace_ids)):
            conn.execute(t.assessments.delete().where(t.assessments.c.trace_id.in_(chunk)))
            conn.execute(t.trace_tags.delete().where(t.trace_tags.c.trace_id.in_(chunk)))
            deleted += conn.execute(t.traces.delete().where(t.traces.c.trace_id.in_(chunk))).rowcount
        return deleted

    def human_labelled_trace_ids(self, trace_ids: Sequence[str]) -> set[str]:
        """Which of these traces carry valid HUMAN feedback (one indexed query per chunk, no trace read)."""
        a = t.assessments.c
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(trace_ids)):
                query = (
                    select(a.trace_id)
                    .distinct()
                    .where(a.trace_id.in_(chunk), a.source_type == "HUMAN", a.kind == "feedback", a.valid.is_(True))
                )
                found.update(conn.execute(query).scalars())
        return found

    def existing_trace_ids(self, trace_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(trace_ids)):
                found.update(conn.execute(select(t.traces.c.trace_id).where(t.traces.c.trace_id.in_(chunk))).scalars())
        return found

    def get_traces(self, trace_ids: Sequence[str]) -> list[Trace]:
        """Traces in the order asked; a missing id is an error naming it."""
        rows: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(trace_ids)):
                for row in conn.execute(select(t.traces).where(t.traces.c.trace_id.in_(chunk))):
                    rows[row.trace_id] = row
        missing = [i for i in trace_ids if i not in rows]
        if missing:
            raise NotFoundError(
                f"no trace with id {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        by_trace = self._assessments_for(list(rows))
        return [row_to_trace(rows[i], by_trace.get(i, [])) for i in trace_ids]

    def get_trace(self, trace_id: str) -> Trace:
        return self.get_traces([trace_id])[0]

    def search_trace_ids(
        self,
        experiment_ids: Sequence[str] | None = None,
        tags: dict[str, str] | None = None,
        assessment_name: str | None = None,
        assessment_source_type: str | None = None,
        session_id: str | None = None,
        max_results: int | None = None,
        newest_first: bool = True,
    ) -> list[str]:
        query = select(t.traces.c.trace_id)
        conditions = []
        if experiment_ids:
            conditions.append(t.traces.c.experiment_id.in_(list(experiment_ids)))
        if session_id is not None:
            conditions.append(t.traces.c.session_id == session_id)
        for key, value in (tags or {}).items():
            alias = t.trace_tags.alias()
            query = query.join(alias, and_(alias.c.trace_id == t.traces.c.trace_id, alias.c.key == key))
            conditions.append(alias.c.value == str(value))
        if assessment_name is not None or assessment_source_type is not None:
            sub = select(t.assessments.c.trace_id).where(t.assessments.c.valid.is_(True))
            if assessment_name is not None:
                sub = sub.where(t.assessments.c.name == assessment_name)
            if assessment_source_type is not None:
                sub = sub.where(t.assessments.c.source_type == str(assessment_source_type))
            conditions.append(t.traces.c.trace_id.in_(sub))
        if conditions:
            query = query.where(and_(*conditions))
        order = t.traces.c.request_time_ms.desc() if newest_first else t.traces.c.request_time_ms.asc()
        query = query.order_by(order, t.traces.c.trace_id)
        if max_results is not None:
            query = query.limit(max_results)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def count_traces(self, experiment_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(t.traces).where(t.traces.c.experiment_id == experiment_id)
            ).scalar_one()

    # assessments -------------------------------------------------------------------------------------
    def _assessments_for(self, trace_ids: Sequence[str]) -> dict[str, list[Feedback | Expectation]]:
        by_trace: dict[str, list[Feedback | Expectation]] = defaultdict(list)
        with self.engine.connect() as conn:
            for chunk in chunks(list(trace_ids)):
                query = (
                    select(t.assessments)
                    .where(t.assessments.c.trace_id.in_(chunk))
                    .order_by(t.assessments.c.create_time_ms, t.assessments.c.assessment_id)
                )
                for row in conn.execute(query):
                    by_trace[row.trace_id].append(row_to_assessment(row))
        return by_trace

    def log_assessments(self, items: Sequence[Feedback | Expectation]) -> None:
        """Add assessments in one transaction. An assessment that `overrides` another marks it invalid:
        the old one stays stored, so nothing is deleted silently."""
        if not items:
            return
        trace_ids = {a.trace_id for a in items}
        if None in trace_ids:
            raise ValueError("every assessment needs a trace_id")
        missing = trace_ids - self.existing_trace_ids(list(trace_ids))  # type: ignore[arg-type]
        if missing:
            raise NotFoundError(f"no trace with id {sorted(missing)[0]!r}; nothing was logged")
        with self.engine.begin() as conn:
            conn.execute(t.assessments.insert(), [assessment_to_row(a) for a in items])
            overridden = [a.overrides for a in items if a.overrides]
            for chunk in chunks(overridden):
                conn.execute(
                    update(t.assessments)
                    .where(t.assessments.c.assessment_id.in_(chunk))
                    .values(valid=False, last_update_time_ms=now_ms())
                )

    def get_assessment(self, assessment_id: str) -> Feedback | Expectation:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.assessments).where(t.assessments.c.assessment_id == assessment_id)).first()
        if row is None:
            raise NotFoundError(f"no assessment with id {assessment_id!r}")
        return row_to_assessment(row)

    def search_assessments(
        self,
        experiment_ids: Sequence[str] | None = None,
        name: str | None = None,
        source_type: str | None = None,
        trace_ids: Sequence[str] | None = None,
        include_invalid: bool = False,
    ) -> list[Feedback | Expectation]:
        query = select(t.assessments)
        if experiment_ids:
            query = query.join(t.traces, t.traces.c.trace_id == t.assessments.c.trace_id).where(
                t.traces.c.experiment_id.in_(list(experiment_ids))
            )
        if name is not None:
            query = query.where(t.assessments.c.name == name)
        if source_type is not None:
            query = query.where(t.assessments.c.source_type == str(source_type))
        if not include_invalid:
            query = query.where(t.assessments.c.valid.is_(True))
        query = query.order_by(t.assessments.c.create_time_ms, t.assessments.c.assessment_id)
        with self.engine.connect() as conn:
            if trace_ids is None:
                return [row_to_assessment(r) for r in conn.execute(query)]
            found = []
            for chunk in chunks(list(trace_ids)):
                found += [row_to_assessment(r) for r in conn.execute(query.where(t.assessments.c.trace_id.in_(chunk)))]
            return found

    # judges ------------------------------------------------------------------------------------------
    def register_judge(self, name: str, spec: dict[str, Any], experiment_id: str | None, tags: dict[str, str]) -> int:
        """Store a new version of a judge; versions count up from 1 per name."""
        for _attempt in range(5):  # another writer may take the same version number first
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(select(func.max(t.judges.c.version)).where(t.judges.c.name == name)).scalar()
                    version = (latest or 0) + 1
                    conn.execute(
                        t.judges.insert().values(
                            name=name,
                            version=version,
                            experiment_id=experiment_id,
                            spec=spec,
                            tags=tags,
                            create_time_ms=now_ms(),
                        )
                    )
                return version
            except IntegrityError:
                continue
        raise RuntimeError(f"could not register judge {name!r}: too many concurrent writers")

    def judge_stamp(self, name: str, version: int | None = None) -> tuple[int, int] | None:
        """(version, create time) of `name`'s given or newest version, without reading its spec; None if none.
        The time tells a version apart from one registered under the same number after a delete."""
        query = select(t.judges.c.version, t.judges.c.create_time_ms).where(t.judges.c.name == name)
        query = query.where(t.judges.c.version == version) if version else query.order_by(t.judges.c.version.desc())
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return (row.version, row.create_time_ms) if row else None

    def _judge_rows(self, query: Any) -> list[JudgeRow]:
        """Rows with their JSON read one by one: a damaged entry is marked, never fatal to the others."""
        with self.engine.connect() as conn:
            raw = list(conn.execute(query))
        rows = []
        for row in raw:
            damaged = None
            try:
                spec, tags = _json(row.spec), _json(row.tags or "{}")  # PostgreSQL's driver decodes JSON itself
                if not isinstance(spec, dict):
                    raise ValueError(f"the spec is a {type(spec).__name__}, not an object")
            except ValueError as exc:
                spec, tags, damaged = {}, {}, str(exc)
            rows.append(JudgeRow(row.name, row.version, row.experiment_id, tags, row.create_time_ms, spec, damaged))
        return rows

    def _judge_query(self) -> Any:
        c = t.judges.c
        return select(
            c.name,
            c.version,
            c.experiment_id,
            c.create_time_ms,
            type_coerce(c.spec, Text).label("spec"),
            type_coerce(c.tags, Text).label("tags"),
        )

    def get_judge_row(self, name: str, version: int | None = None) -> JudgeRow:
        query = self._judge_query().where(t.judges.c.name == name)
        query = query.where(t.judges.c.version == version) if version else query.order_by(t.judges.c.version.desc())
        found = self._judge_rows(query.limit(1))
        row = found[0] if found else None
        if row is None:
            known = ", ".join(sorted({r.name for r in self.list_judge_rows()})) or "none registered"
            what = f"{name!r} version {version}" if version else repr(name)
            raise NotFoundError(f"no judge {what} (registered: {known})")
        return row

    def delete_judge(self, name: str, version: int | None = None) -> int:
        """Delete one version of a judge, or all of them, with the aliases that point to them; returns how
        many versions were deleted."""
        query = delete(t.judges).where(t.judges.c.name == name)
        aliases = delete(t.judge_aliases).where(t.judge_aliases.c.name == name)
        if version is not None:
            query = query.where(t.judges.c.version == version)
            aliases = aliases.where(t.judge_aliases.c.version == version)
        with self.engine.begin() as conn:
            conn.execute(aliases)
            return conn.execute(query).rowcount

    def set_judge_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` of judge `name` at `version` (replacing where it pointed), in one transaction."""
        a = t.judge_aliases
        with self.engine.begin() as conn:
            conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias))
            conn.execute(a.insert().values(name=name, alias=alias, version=version, update_time_ms=now_ms()))

    def delete_judge_alias(self, name: str, alias: str) -> int:
        a = t.judge_aliases
        with self.engine.begin() as conn:
            return conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias)).rowcount

    def judge_aliases(self, name: str | None = None) -> dict[str, dict[str, int]]:
        """name -> {alias: version}."""
        a = t.judge_aliases
        query = select(a.c.name, a.c.alias, a.c.version).order_by(a.c.name, a.c.alias)
        if name is not None:
            query = query.where(a.c.name == name)
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(row.name, {})[row.alias] = row.version
        return found

    def list_judge_rows(self, name: str | None = None) -> list[JudgeRow]:
        query = self._judge_query().order_by(t.judges.c.name, t.judges.c.version)
        if name is not None:
            query = query.where(t.judges.c.name == name)
        return self._judge_rows(query)
