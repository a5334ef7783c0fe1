"""issue 12 (part B): the desk's rules: callback outcome, the complaint a dissatisfied callback opens, the
incoming's own checks and a substitute on the handover, a duty-log escalation waiting until handled

Revision ID: b12e4c7d9a01
Revises: 33340e6a6316
Create Date: 2026-12-06 01:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b12e4c7d9a01'
down_revision = "33340e6a6316"
branch_labels = None
depends_on = None

DATA_CHANGES = {
    "duty_log.escalated_to": "entries escalated before this release wait on the home page of the role they name",
    "duty_log.escalated_at": "their wait counts from when they were logged",
    "duty_log.escalation_handled_at": "an escalated entry whose follow-up was done counts as handled then",
}


def upgrade():
    with op.batch_alter_table('repair_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('callback_outcome', sa.String(length=14), nullable=True))
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_complaint_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_callback_follow_up_complaint_id_complaint'), 'complaint',
                                    ['follow_up_complaint_id'], ['id'])

    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incoming_read_log', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('incoming_desk_checked', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('incoming_items_counted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('substitute_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_handover_substitute_id_staff_user'), 'staff_user',
                                    ['substitute_id'], ['id'])

    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_to', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalation_handled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalation_handled_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_duty_log_escalated_at'), ['escalated_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_duty_log_escalation_handled_by_id_staff_user'), 'staff_user',
                                    ['escalation_handled_by_id'], ['id'])
    op.execute("UPDATE duty_log SET escalated_to = escalation, escalated_at = logged_at WHERE escalation != 'self'")
    op.execute("UPDATE duty_log SET escalation_handled_at = COALESCE(updated_at, logged_at) "
               "WHERE escalation != 'self' AND follow_up = 'done'")


def downgrade():
    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_duty_log_escalation_handled_by_id_staff_user'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_duty_log_escalated_at'))
        batch_op.drop_column('escalation_handled_by_id')
        batch_op.drop_column('escalation_handled_at')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalated_to')
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_handover_substitute_id_staff_user'), type_='foreignkey')
        batch_op.drop_column('substitute_id')
        batch_op.drop_column('incoming_items_counted')
        batch_op.drop_column('incoming_desk_checked')
        batch_op.drop_column('incoming_read_log')
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_callback_follow_up_complaint_id_complaint'), type_='foreignkey')
        batch_op.drop_column('follow_up_complaint_id')
    with op.batch_alter_table('repair_order', schema=None) as batch_op:
        batch_op.drop_column('callback_outcome')
