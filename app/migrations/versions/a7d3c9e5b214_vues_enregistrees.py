"""saved views: columns, filters, sort and frozen columns of a list or grid under a name

Revision ID: a7d3c9e5b214
Revises: a9d4c2e7b1f0
Create Date: 2026-12-03 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3c9e5b214'
down_revision = 'a9d4c2e7b1f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vue_enregistree',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page', sa.String(length=80), nullable=False),
    sa.Column('nom', sa.String(length=120), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('partagee', sa.Boolean(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('departement_id', sa.Integer(), nullable=True),
    sa.Column('operateur_id', sa.Integer(), nullable=True),
    sa.Column('role_defaut', sa.String(length=64), nullable=True),
    sa.Column('etat', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['departement_id'], ['departement.id'], ),
    sa.ForeignKeyConstraint(['operateur_id'], ['operateur.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('vue_enregistree', schema=None) as batch_op:
        batch_op.create_index('ix_vue_enregistree_page_owner', ['page', 'owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vue_enregistree_role_defaut'), ['role_defaut'], unique=False)


def downgrade():
    with op.batch_alter_table('vue_enregistree', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vue_enregistree_role_defaut'))
        batch_op.drop_index('ix_vue_enregistree_page_owner')

    op.drop_table('vue_enregistree')
