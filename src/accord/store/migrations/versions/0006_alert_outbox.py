"""Alert outbox: alerts kept until a webhook receiver accepts them (delivered at least once).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("alert_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor_key", sa.String(600), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_ms", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_alert_outbox_key_next", "alert_outbox", ["monitor_key", "next_try_ms"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_key_next", table_name="alert_outbox")
    op.drop_table("alert_outbox")
