"""runs: a heartbeat and the process that runs them, so a run whose process died shows as crashed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hostname', sa.String(length=255), nullable=True))
        batch_op.drop_constraint(op.f('ck_runs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_runs_status'), "status IN ('running', 'completed', 'stopped', 'failed', 'crashed')")


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_runs_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_runs_status'), "status IN ('running', 'completed', 'stopped', 'failed')")
        for column in ('hostname', 'pid', 'heartbeat'):
            batch_op.drop_column(column)
