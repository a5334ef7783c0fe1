"""issue 15: attachments (the copies, photos and signed forms of a record)

Revision ID: c15a77ac4e01
Revises: 7a9eee83378c
"""
import sqlalchemy as sa
from alembic import op

revision = "c15a77ac4e01"
down_revision = "7a9eee83378c"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=80), nullable=False),
        sa.Column("thumb_key", sa.String(length=80), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["staff_user.id"],
                                name=op.f("fk_attachment_uploaded_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_attachment_storage_key")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index("ix_attachment_register_record", ["register", "record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachment_property_id"), ["property_id"], unique=False)


def downgrade():
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_property_id"))
        batch_op.drop_index("ix_attachment_register_record")
    op.drop_table("attachment")
