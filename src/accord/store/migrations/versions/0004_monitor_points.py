"""Monitor points: the rolling figures of `accord monitor`, one row a cycle.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_points",
        sa.Column("point_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor_key", sa.String(600), nullable=False),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("judge_key", sa.String(512), nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("figures", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_points_key_time", "monitor_points", ["monitor_key", "time_ms"])
    op.create_index("ix_monitor_points_experiment_judge", "monitor_points", ["experiment_id", "judge_key"])


def downgrade() -> None:
    op.drop_index("ix_monitor_points_experiment_judge", table_name="monitor_points")
    op.drop_index("ix_monitor_points_key_time", table_name="monitor_points")
    op.drop_table("monitor_points")
