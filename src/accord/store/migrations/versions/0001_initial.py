"""Initial tables: experiments, traces, trace tags, assessments, judges.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False, unique=True),
        sa.Column("create_time_ms", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
    )
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(256), primary_key=True),
        sa.Column("experiment_id", sa.String(64), sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.Column("session_id", sa.String(256)),
        sa.Column("request_time_ms", sa.BigInteger, nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON),
        sa.Column("outputs", sa.JSON),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_traces_experiment_time", "traces", ["experiment_id", "request_time_ms"])
    op.create_index("ix_traces_session", "traces", ["session_id"])
    op.create_table(
        "trace_tags",
        sa.Column("trace_id", sa.String(256), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(1000), nullable=False),
    )
    op.create_index("ix_trace_tags_key_value", "trace_tags", ["key", "value"])
    op.create_table(
        "assessments",
        sa.Column("assessment_id", sa.String(64), primary_key=True),
        sa.Column("trace_id", sa.String(256), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("value", sa.JSON),
        sa.Column("rationale", sa.Text),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(256), nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON),
        sa.Column("overrides", sa.String(64)),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("create_time_ms", sa.BigInteger, nullable=False),
        sa.Column("last_update_time_ms", sa.BigInteger, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_assessments_trace", "assessments", ["trace_id"])
    op.create_index("ix_assessments_name_source", "assessments", ["name", "source_type"])
    op.create_table(
        "judges",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("experiment_id", sa.String(64)),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("create_time_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("judges", "assessments", "trace_tags", "traces", "experiments"):
        op.drop_table(table)
