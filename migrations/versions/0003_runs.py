"""runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('host', sa.Text(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('spawn_rate', sa.Double(), nullable=False),
    sa.Column('duration', sa.Double(), nullable=True),
    sa.Column('processes', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('rps', sa.Double(), nullable=False),
    sa.Column('p50_ms', sa.Double(), nullable=False),
    sa.Column('p95_ms', sa.Double(), nullable=False),
    sa.Column('p99_ms', sa.Double(), nullable=False),
    sa.Column('saturated', sa.Boolean(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('iterations', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('running', 'completed', 'stopped', 'failed')", name=op.f('ck_runs_status')),
    sa.ForeignKeyConstraint(['set_id'], ['scenario_sets.id'], name=op.f('fk_runs_set_id_scenario_sets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('run_buckets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.Text(), nullable=False),
    sa.Column('t', sa.Integer(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('p50_ms', sa.Double(), nullable=False),
    sa.Column('p95_ms', sa.Double(), nullable=False),
    sa.Column('p99_ms', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_buckets_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_buckets')),
    sa.UniqueConstraint('run_id', 'endpoint', 't', name='uq_run_buckets_run_endpoint_t')
    )
    with op.batch_alter_table('run_buckets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_buckets_run_id'), ['run_id'], unique=False)

    op.create_table('run_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('deviations', sa.Integer(), nullable=False),
    sa.Column('histogram', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_endpoints_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_endpoints')),
    sa.UniqueConstraint('run_id', 'name', name='uq_run_endpoints_run_name')
    )
    with op.batch_alter_table('run_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_endpoints_run_id'), ['run_id'], unique=False)

    op.create_table('run_errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('sample', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_errors_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_errors')),
    sa.UniqueConstraint('run_id', 'endpoint', 'kind', name='uq_run_errors_run_endpoint_kind')
    )
    with op.batch_alter_table('run_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_errors_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('run_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_errors_run_id'))

    op.drop_table('run_errors')
    with op.batch_alter_table('run_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_endpoints_run_id'))

    op.drop_table('run_endpoints')
    with op.batch_alter_table('run_buckets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_buckets_run_id'))

    op.drop_table('run_buckets')
    op.drop_table('runs')
