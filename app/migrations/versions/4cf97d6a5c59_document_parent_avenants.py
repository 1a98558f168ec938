"""document parent (avenants): an avenant points to the document it amends

Revision ID: 4cf97d6a5c59
Revises: 63719a5d3873
Create Date: 2026-11-26 01:50:59.737012

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4cf97d6a5c59'
down_revision = '63719a5d3873'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_document_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key('fk_document_parent_id', 'document', ['parent_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_constraint('fk_document_parent_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_document_parent_id'))
        batch_op.drop_column('parent_id')
