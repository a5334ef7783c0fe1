"""issue 14: two indexes on every numbered register, so one property's pages cost the same however many
properties share the table (measured at 10M repair orders in 50 properties: README "Performance"):
(property_id, created_by_id, created_at) counts "what I registered here since <date>" (the home page) from the
index; (property_id, id) pages the list newest first without walking other properties' rows.

Revision ID: d14b0a7c2e51
Revises: b12e4c7d9a01
Create Date: 2026-12-06 04:40:00

"""
from alembic import op

revision = 'd14b0a7c2e51'
down_revision = "b12e4c7d9a01"
branch_labels = None
depends_on = None

TABLES = ['additional_works', 'callback', 'cleaning_booking', 'complaint', 'duty_log', 'fee_payment', 'function_card', 'goods_pass', 'handover', 'hot_work_permit', 'incident', 'inspection_issue', 'leave_request', 'mail_item', 'move_in', 'network_request', 'payment', 'phone_log', 'reclaimed_water_sale', 'renovation_extension', 'renovation_permit', 'repair_order', 'stair_elevator_use', 'telecom_registration', 'utility_account', 'worker_pass']


def upgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_property_creator", table, ["property_id", "created_by_id", "created_at"],
                        unique=False)
        op.create_index(f"ix_{table}_property_id_id", table, ["property_id", "id"], unique=False)


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_property_id_id", table_name=table)
        op.drop_index(f"ix_{table}_property_creator", table_name=table)
