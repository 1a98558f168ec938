"""pages that do not slow down as the park grows: « À traiter » lines and the map's clusters
as aggregate tables,
the structures' search index (FTS5 trigram table on SQLite, pg_trgm GIN index on PostgreSQL,
kept in sync by triggers), an index on the coordinates for the map's viewport

Revision ID: a7c4e2f9d815
Revises: a7d3c9e5b214
Create Date: 2026-12-03 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c4e2f9d815'
down_revision = 'a7d3c9e5b214'
branch_labels = None
depends_on = None

#: The searched text of one structure (the list's « Rechercher »): its code DNA, name,
#: commune, postal code, FINESS, opérateur's name, its addresses' communes and postal codes,
#: separated by the unit separator (no search text spans two fields).
SQLITE_DOC = """coalesce(s.code_dna, '') || char(31) || coalesce(s.nom, '') || char(31)
 || coalesce(s.commune, '') || char(31) || coalesce(s.code_postal, '') || char(31)
 || coalesce(s.code_finess, '') || char(31)
 || coalesce((SELECT o.nom FROM operateur o WHERE o.id = s.operateur_id), '') || char(31)
 || coalesce((SELECT group_concat(coalesce(a.commune, '') || char(31) || coalesce(a.code_postal, ''),
                                  char(31)) FROM adresse a WHERE a.structure_id = s.id), '')"""

PG_DOC = SQLITE_DOC.replace("char(31)", "chr(31)").replace("group_concat(", "string_agg(")


def _sqlite_refresh(sid: str) -> str:
    return (f"DELETE FROM structure_recherche WHERE rowid = {sid};\n"
            f"  INSERT INTO structure_recherche(rowid, doc) SELECT s.id, {SQLITE_DOC} "
            f"FROM structure s WHERE s.id = {sid};")


SQLITE_TRIGGERS = {
    "structure_recherche_si": f"AFTER INSERT ON structure BEGIN {_sqlite_refresh('new.id')} END",
    "structure_recherche_su": "AFTER UPDATE OF code_dna, nom, commune, code_postal, code_finess, "
                              f"operateur_id ON structure BEGIN {_sqlite_refresh('old.id')} "
                              f"{_sqlite_refresh('new.id')} END",
    "structure_recherche_sd": "AFTER DELETE ON structure BEGIN "
                              "DELETE FROM structure_recherche WHERE rowid = old.id; END",
    "structure_recherche_ai": f"AFTER INSERT ON adresse BEGIN {_sqlite_refresh('new.structure_id')} END",
    "structure_recherche_au": "AFTER UPDATE OF commune, code_postal, structure_id ON adresse BEGIN "
                              f"{_sqlite_refresh('old.structure_id')} "
                              f"{_sqlite_refresh('new.structure_id')} END",
    "structure_recherche_ad": f"AFTER DELETE ON adresse BEGIN {_sqlite_refresh('old.structure_id')} END",
    "structure_recherche_ou": "AFTER UPDATE OF nom ON operateur BEGIN "
                              "DELETE FROM structure_recherche WHERE rowid IN "
                              "(SELECT id FROM structure WHERE operateur_id = new.id); "
                              f"INSERT INTO structure_recherche(rowid, doc) SELECT s.id, {SQLITE_DOC} "
                              "FROM structure s WHERE s.operateur_id = new.id; END",
}

PG_FUNCTIONS = f"""
CREATE FUNCTION structure_recherche_refresh(sid integer) RETURNS void AS $$
  DELETE FROM structure_recherche WHERE structure_id = sid;
  INSERT INTO structure_recherche(structure_id, doc)
    SELECT s.id, {PG_DOC} FROM structure s WHERE s.id = sid;
$$ LANGUAGE sql;

CREATE FUNCTION structure_recherche_trigger() RETURNS trigger AS $$
BEGIN
  IF TG_TABLE_NAME = 'structure' THEN
    IF TG_OP = 'DELETE' THEN
      DELETE FROM structure_recherche WHERE structure_id = OLD.id;
    ELSE
      PERFORM structure_recherche_refresh(NEW.id);
    END IF;
  ELSIF TG_TABLE_NAME = 'adresse' THEN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
      PERFORM structure_recherche_refresh(OLD.structure_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.structure_id <> OLD.structure_id
        OR NEW.commune IS DISTINCT FROM OLD.commune OR NEW.code_postal IS DISTINCT FROM OLD.code_postal) THEN
      PERFORM structure_recherche_refresh(NEW.structure_id);
    END IF;
  ELSIF TG_TABLE_NAME = 'operateur' THEN
    PERFORM structure_recherche_refresh(s.id) FROM structure s WHERE s.operateur_id = NEW.id;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER structure_recherche_s AFTER INSERT OR DELETE OR UPDATE OF code_dna, nom, commune,
  code_postal, code_finess, operateur_id ON structure
  FOR EACH ROW EXECUTE FUNCTION structure_recherche_trigger();
CREATE TRIGGER structure_recherche_a AFTER INSERT OR DELETE OR UPDATE OF commune, code_postal,
  structure_id ON adresse FOR EACH ROW EXECUTE FUNCTION structure_recherche_trigger();
CREATE TRIGGER structure_recherche_o AFTER UPDATE OF nom ON operateur
  FOR EACH ROW EXECUTE FUNCTION structure_recherche_trigger();
"""


def upgrade():
    op.create_table(
        'agg_a_traiter',
        sa.Column('rubrique', sa.String(length=20), nullable=False),
        sa.Column('structure_id', sa.Integer(), nullable=False),
        sa.Column('code_dna', sa.String(length=10), nullable=False),
        sa.Column('departement_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('operateur_id', sa.Integer(), nullable=True),
        sa.Column('echeance', sa.Date(), nullable=True),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['structure_id'], ['structure.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('rubrique', 'structure_id'),
    )
    op.create_index('ix_agg_a_traiter_order', 'agg_a_traiter', ['rubrique', 'echeance', 'code_dna'])
    op.create_index('ix_agg_a_traiter_dep', 'agg_a_traiter', ['rubrique', 'departement_id'])
    op.create_index('ix_agg_a_traiter_op', 'agg_a_traiter', ['rubrique', 'operateur_id'])
    op.create_index('ix_structure_coordonnees', 'structure', ['latitude', 'longitude'])
    op.create_table(
        'agg_carte',
        sa.Column('zoom', sa.Integer(), nullable=False),
        sa.Column('gx', sa.Integer(), nullable=False),
        sa.Column('gy', sa.Integer(), nullable=False),
        sa.Column('departement_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=10), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('min_id', sa.Integer(), nullable=False),
        sa.Column('sum_lat', sa.Float(), nullable=False),
        sa.Column('sum_lng', sa.Float(), nullable=False),
        sa.Column('min_lat', sa.Float(), nullable=False),
        sa.Column('min_lng', sa.Float(), nullable=False),
        sa.Column('max_lat', sa.Float(), nullable=False),
        sa.Column('max_lng', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('zoom', 'gx', 'gy', 'departement_id', 'type'),
    )
    op.create_index('ix_agg_carte_cell', 'agg_carte', ['zoom', 'gy', 'gx'])

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE structure_recherche USING fts5(doc, tokenize = 'trigram')")
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute(f"INSERT INTO structure_recherche(rowid, doc) SELECT s.id, {SQLITE_DOC} FROM structure s")
    elif dialect == 'postgresql':
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE TABLE structure_recherche (structure_id integer PRIMARY KEY "
                   "REFERENCES structure(id) ON DELETE CASCADE, doc text NOT NULL)")
        op.execute("CREATE INDEX ix_structure_recherche_trgm ON structure_recherche "
                   "USING gin (doc gin_trgm_ops)")
        op.execute(PG_FUNCTIONS)
        op.execute(f"INSERT INTO structure_recherche(structure_id, doc) SELECT s.id, {PG_DOC} FROM structure s")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS structure_recherche")
    elif dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS structure_recherche_s ON structure")
        op.execute("DROP TRIGGER IF EXISTS structure_recherche_a ON adresse")
        op.execute("DROP TRIGGER IF EXISTS structure_recherche_o ON operateur")
        op.execute("DROP FUNCTION IF EXISTS structure_recherche_trigger()")
        op.execute("DROP FUNCTION IF EXISTS structure_recherche_refresh(integer)")
        op.execute("DROP TABLE IF EXISTS structure_recherche")
    op.drop_index('ix_agg_carte_cell', table_name='agg_carte')
    op.drop_table('agg_carte')
    op.drop_index('ix_structure_coordonnees', table_name='structure')
    op.drop_index('ix_agg_a_traiter_op', table_name='agg_a_traiter')
    op.drop_index('ix_agg_a_traiter_dep', table_name='agg_a_traiter')
    op.drop_index('ix_agg_a_traiter_order', table_name='agg_a_traiter')
    op.drop_table('agg_a_traiter')
