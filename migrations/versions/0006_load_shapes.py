"""runs: a kind (play, capacity), live control (target users, stop) and a capacity answer;
buckets keep the target user count beside the actual one; endpoints keep the open model's
latency from when each request was due; run_steps hold a capacity search's steps

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='play'))
        batch_op.add_column(sa.Column('control_users', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('control_stop', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('answer', sa.JSON(), nullable=True))
    with op.batch_alter_table('run_buckets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_users', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('run_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_histogram', sa.JSON(), nullable=True))
    op.create_table(
        'run_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('k', sa.Integer(), nullable=False),
        sa.Column('users', sa.Integer(), nullable=False),
        sa.Column('start_t', sa.Float(), nullable=False),
        sa.Column('end_t', sa.Float(), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('rps', sa.Float(), nullable=False),
        sa.Column('p50_ms', sa.Float(), nullable=False),
        sa.Column('p95_ms', sa.Float(), nullable=False),
        sa.Column('p99_ms', sa.Float(), nullable=False),
        sa.Column('spread', sa.Float(), nullable=False),
        sa.Column('saturated', sa.Boolean(), nullable=False),
        sa.Column('breaches', sa.JSON(), nullable=False),
        sa.Column('endpoints', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_steps_run_id_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_run_steps')),
        sa.UniqueConstraint('run_id', 'k', name='uq_run_steps_run_k'),
    )
    op.create_index(op.f('ix_run_steps_run_id'), 'run_steps', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_run_steps_run_id'), table_name='run_steps')
    op.drop_table('run_steps')
    with op.batch_alter_table('run_endpoints', schema=None) as batch_op:
        batch_op.drop_column('due_histogram')
    with op.batch_alter_table('run_buckets', schema=None) as batch_op:
        batch_op.drop_column('target_users')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        for column in ('answer', 'control_stop', 'control_users', 'kind'):
            batch_op.drop_column(column)
