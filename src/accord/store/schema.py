"""The tables, in SQLAlchemy Core. Portable types only, so SQLite and PostgreSQL share one migration path."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("name", String(512), nullable=False, unique=True),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("tags", JSON, nullable=False),
)

traces = Table(
    "traces",
    metadata,
    Column("trace_id", String(256), primary_key=True),
    Column("experiment_id", String(64), ForeignKey("experiments.experiment_id"), nullable=False),
    Column("session_id", String(256)),
    Column("request_time_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger),
    Column("status", String(16), nullable=False),
    Column("inputs", JSON(none_as_null=True)),
    Column("outputs", JSON(none_as_null=True)),
    Column("spans", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Index("ix_traces_experiment_time", "experiment_id", "request_time_ms"),
    Index("ix_traces_session", "session_id"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_id", String(256), ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", String(1000), nullable=False),
    Index("ix_trace_tags_key_value", "key", "value"),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", String(64), primary_key=True),
    Column("trace_id", String(256), ForeignKey("traces.trace_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(256), nullable=False),
    Column("value", JSON(none_as_null=True)),
    Column("rationale", Text),
    Column("source_type", String(16), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("meta", JSON, nullable=False),
    Column("error", JSON(none_as_null=True)),
    Column("overrides", String(64)),
    Column("valid", Boolean, nullable=False),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("last_update_time_ms", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Index("ix_assessments_trace", "trace_id"),
    Index("ix_assessments_name_source", "name", "source_type"),
    Index("ix_assessments_name_updated", "name", "last_update_time_ms"),
)

judges = Table(
    "judges",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("experiment_id", String(64)),
    Column("spec", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("create_time_ms", BigInteger, nullable=False),
)

# Named pointers to judge versions, as in MLflow's model registry ("champion"): a bare judge name means its
# champion when one is set, so registering a new version (an alignment's candidate) changes nothing in use.
judge_aliases = Table(
    "judge_aliases",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("update_time_ms", BigInteger, nullable=False),
)

# A feedback name's allowed values in an experiment (`accord feedback schema`), as a judge's value type is
# written ("Literal['good', 'poor']", "bool", "int"): labels outside it are refused, so a typo never becomes
# a new class, and the review page offers exactly these values.
label_schemas = Table(
    "label_schemas",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("value_type", Text, nullable=False),
    Column("update_time_ms", BigInteger, nullable=False),
)

# Which run is judging a trace for a judge version right now, so that two runs of one judge never judge the
# same trace twice. A claim lapses at `expires_ms` unless its run renews it (a run that died frees its work).
claims = Table(
    "claims",
    metadata,
    Column("judge_key", String(512), primary_key=True),
    Column("trace_id", String(256), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_claims_owner", "owner"),
)

# The rolling figures `accord monitor` computes each cycle, for the review page's chart and for restarts.
monitor_points = Table(
    "monitor_points",
    metadata,
    Column("point_id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_key", String(600), nullable=False),
    Column("experiment_id", String(64), nullable=False),
    Column("judge_key", String(512), nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("figures", JSON, nullable=False),
    Index("ix_monitor_points_key_time", "monitor_key", "time_ms"),
    Index("ix_monitor_points_experiment_judge", "experiment_id", "judge_key"),
)

# Alerts waiting for their webhook: written with the cycle's figures, deleted only once a receiver accepted them,
# so an alert is delivered at least once even when the receiver fails, hangs or the monitor is killed mid-POST.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_key", String(600), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_try_ms", BigInteger, nullable=False),
    Column("last_error", Text),
    Index("ix_alert_outbox_key_next", "monitor_key", "next_try_ms"),
)
