"""budget dialogue, step 5: the compte administratif of the year (realised amounts per line,
result, affectation du résultat proposed by the opérateur and settled by the agent); the draft
avenant to the convention the decision generates

Revision ID: b3f8d1c6e2a9
Revises: a9c4e2f7b1d6
Create Date: 2026-12-03 18:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3f8d1c6e2a9'
down_revision = 'a9c4e2f7b1d6'
branch_labels = None
depends_on = None

COLUMNS = (
    ('echeance_ca', sa.Date()),
    ('ca_depose_le', sa.DateTime()),
    ('ca_depose_par', sa.String(length=128)),
    ('resultat', sa.Numeric(precision=14, scale=2)),
    ('affectation_proposee', sa.String(length=30)),
    ('ca_commentaire', sa.Text()),
    ('affectation_retenue', sa.String(length=30)),
    ('motif_affectation', sa.Text()),
    ('ca_arrete_le', sa.DateTime()),
    ('ca_arrete_par', sa.String(length=128)),
)


def upgrade():
    with op.batch_alter_table('dialogue_budgetaire', schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(sa.Column('avenant_document_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_dialogue_avenant_document_id', 'document', ['avenant_document_id'],
                                    ['id'], ondelete='SET NULL')
    with op.batch_alter_table('dialogue_ligne', schema=None) as batch_op:
        batch_op.add_column(sa.Column('realise', sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table('dialogue_ligne', schema=None) as batch_op:
        batch_op.drop_column('realise')
    with op.batch_alter_table('dialogue_budgetaire', schema=None) as batch_op:
        batch_op.drop_constraint('fk_dialogue_avenant_document_id', type_='foreignkey')
        batch_op.drop_column('avenant_document_id')
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
