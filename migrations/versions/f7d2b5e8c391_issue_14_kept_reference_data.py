"""issue 14: data_generation, the random value that changes with every write to a kept table (kernel/kept.py):
the deadlines' minutes, the departments and the saved views are kept per process while it is unchanged.

Revision ID: f7d2b5e8c391
Revises: f3c1a9d7b214
Create Date: 2026-12-06 11:30:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "f7d2b5e8c391"
down_revision = "f3c1a9d7b214"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "data_generation",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_generation")),
    )
    op.bulk_insert(table, [{"name": "reference", "value": secrets.randbits(62)}])


def downgrade():
    op.drop_table("data_generation")
