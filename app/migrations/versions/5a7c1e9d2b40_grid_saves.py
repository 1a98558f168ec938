"""grid saves and preferences: one row per batch saved from a grid page (undo data), and the
columns each user hides on each grid page

Revision ID: 5a7c1e9d2b40
Revises: e14128ee9ee5
Create Date: 2026-11-26 02:25:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a7c1e9d2b40'
down_revision = 'e14128ee9ee5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grid_save',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=128), nullable=True),
    sa.Column('sheet', sa.String(length=40), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('undone', sa.Boolean(), nullable=False),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.Column('before', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('grid_save', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_save_user_id'), ['user_id'], unique=False)
    op.create_table('grid_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sheet', sa.String(length=40), nullable=False),
    sa.Column('hidden', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'sheet', name='uq_grid_preference_user_sheet')
    )


def downgrade():
    op.drop_table('grid_preference')
    with op.batch_alter_table('grid_save', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_save_user_id'))
    op.drop_table('grid_save')
