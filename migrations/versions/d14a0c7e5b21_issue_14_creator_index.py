"""issue 14: an index per numbered register on (property, created_by, created_at), so the home page's 新建
buttons count what one person entered in the last 30 days from the index alone

Revision ID: d14a0c7e5b21
Revises: b12e4c7d9a01
Create Date: 2026-12-06 04:30:00

"""
from alembic import op

revision = 'd14a0c7e5b21'
down_revision = "b12e4c7d9a01"
branch_labels = None
depends_on = None

TABLES = ("payment", "fee_payment", "phone_log", "repair_order", "complaint", "incident", "callback",
          "cleaning_booking", "function_card", "reclaimed_water_sale", "telecom_registration", "utility_account",
          "network_request", "mail_item", "move_in", "inspection_issue", "leave_request", "duty_log", "handover",
          "renovation_permit", "worker_pass", "goods_pass", "renovation_extension", "additional_works",
          "hot_work_permit", "stair_elevator_use")


def upgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_property_creator_created", table, ["property_id", "created_by_id", "created_at"],
                        unique=False)


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_property_creator_created", table_name=table)
