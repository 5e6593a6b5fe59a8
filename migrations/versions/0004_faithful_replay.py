"""faithful replay: exact request bodies, and what validation and play need to send them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_raw', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expect_location', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_raw', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('body_charset', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('body_coding', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('body_unrecorded', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('steps', schema=None) as batch_op:
        for column in ('body_unrecorded', 'body_coding', 'body_charset', 'body_raw', 'expect_location'):
            batch_op.drop_column(column)
    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.drop_column('request_raw')
