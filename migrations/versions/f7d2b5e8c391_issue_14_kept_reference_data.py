"""issue 14: data_generation, the random value that changes with every write to a kept table (kernel/kept.py):
the deadlines' minutes, the departments and the saved views are kept per process while it is unchanged. The
row appears with the first write to a kept table (until then every request reads the tables, as before).

Revision ID: f7d2b5e8c391
Revises: f3c1a9d7b214
Create Date: 2026-12-06 11:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f7d2b5e8c391"
down_revision = "f3c1a9d7b214"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_generation",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_generation")),
    )


def downgrade():
    op.drop_table("data_generation")
