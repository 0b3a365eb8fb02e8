"""Index assessments by name and last update, so the review queue can tell cheaply whether anything changed.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assessments_name_updated", "assessments", ["name", "last_update_time_ms"])


def downgrade() -> None:
    op.drop_index("ix_assessments_name_updated", table_name="assessments")
