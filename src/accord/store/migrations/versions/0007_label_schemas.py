"""Label schemas: a feedback name's allowed values in an experiment, declared before any judge exists.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_schemas",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("value_type", sa.Text, nullable=False),
        sa.Column("update_time_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("label_schemas")
