"""What a role may see, stated by the test from the account alone (never from app/scope.py):
the ids of each table inside its territory, and the stored values that must never leave the
records outside it (names, codes DNA, postal codes, FINESS, SIRET, references, file names)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, false, select

from models import (Adresse, AdresseAnnee, BhasileUser, Convention, ConventionStructure,
                    Departement, Document, ExportJob, ImportBatch, Operateur, Region, Structure)
from models.campagne import Campagne, Tache, TacheCommentaire, campagne_departement
from models.enums import Role

NATIONAL_ROLES = {Role.ADMIN.value, Role.CENTRAL.value}
#: Stored values that identify a record, by model: what a leak would show.
MARKED = {Structure: ("code_dna", "nom", "code_postal", "code_finess"), Adresse: ("code_postal",),
          Operateur: ("nom", "siret"), Convention: ("reference",), Campagne: ("nom",),
          Document: ("nom_original",), ImportBatch: ("filename",), ExportJob: ("title",)}


@dataclass
class Territory:
    """One account's territory: in-scope ids per table (absent table: no territory rule)."""

    username: str
    user_id: int
    national: bool
    is_operateur: bool
    ids: dict[str, set[int]] = field(default_factory=dict)
    existing: dict[str, set[int]] = field(default_factory=dict)  # every id of the same tables
    codes: list[str] = field(default_factory=list)  # dashboard codes inside (FR, région, dép., opérateur)
    out_code: str | None = None  # a code naming nothing of the territory, whatever the level

    def first_in(self, table: str) -> int | None:
        return min(self.ids[table], default=None)

    def first_out(self, table: str) -> int | None:
        return min(self.existing[table] - self.ids[table], default=None)

    def universally_out(self, pk: int) -> bool:
        """No table of the territory holds this id: any route given it must answer 404."""
        return all(pk not in ids for ids in self.ids.values())


def territory(session, username: str) -> Territory:
    """The territory of an account, from its role, régions, départements or opérateur."""
    user = session.scalar(select(BhasileUser).where(BhasileUser.username == username))
    roles = {r.name for r in user.roles}
    deps = {d.id for d in user.departements} | set(session.scalars(
        select(Departement.id).where(Departement.region_id.in_([r.id for r in user.regions]))))
    national = bool(roles & NATIONAL_ROLES) or (
        roles == {Role.LECTEUR.value} and not (deps or user.operateur_id))
    t = Territory(username, user.id, national, Role.OPERATEUR.value in roles)
    structures = select(Structure.id)
    if t.is_operateur:
        structures = structures.where(Structure.operateur_id == user.operateur_id)
    elif not national:
        structures = structures.where(Structure.departement_id.in_(deps))
    t.ids["structure"] = set(session.scalars(structures))
    _linked(session, t, user.operateur_id, deps)
    t.existing = {name: _ids(session, Structure.metadata.tables[name], None, True) for name in t.ids}
    t.codes, t.out_code = _codes(session, t, user.operateur_id)
    return t


def _linked(session, t: Territory, operateur_id: int | None, deps: set[int]) -> None:
    """In-scope ids of every table hanging from the structures, and of the owned records."""
    structures, national = t.ids["structure"], t.national
    for table in Structure.metadata.sorted_tables:
        if "structure_id" in table.c and "id" in table.c:
            t.ids[table.name] = _ids(session, table, table.c.structure_id.in_(structures), national)
    t.ids["adresse_annee"] = _ids(session, AdresseAnnee.__table__,
                                  AdresseAnnee.adresse_id.in_(t.ids["adresse"]), national)
    ops = {operateur_id} if t.is_operateur else set(session.scalars(
        select(Structure.operateur_id).where(Structure.id.in_(structures))))
    t.ids["operateur"] = _ids(session, Operateur.__table__, Operateur.id.in_(ops), national)
    covered = Convention.id.in_(select(ConventionStructure.convention_id).where(
        ConventionStructure.structure_id.in_(structures)))
    own = Convention.operateur_id == operateur_id if t.is_operateur else false()
    t.ids["convention"] = _ids(session, Convention.__table__, covered | own, national)
    t.ids["document"] = _ids(session, Document.__table__, Document.structure_id.in_(structures)
                             | Document.convention_id.in_(t.ids["convention"])
                             | Document.operateur_id.in_(t.ids["operateur"]), national)
    with_task = Campagne.id.in_(select(Tache.campagne_id).where(Tache.structure_id.in_(structures)))
    on_deps = Campagne.id.in_(select(campagne_departement.c.campagne_id).where(
        campagne_departement.c.departement_id.in_(deps)))
    t.ids["campagne"] = _ids(session, Campagne.__table__,
                             with_task if t.is_operateur else with_task | on_deps, national)
    t.ids["tache_commentaire"] = _ids(session, TacheCommentaire.__table__,
                                      TacheCommentaire.tache_id.in_(t.ids["tache"]), national)
    t.ids["import_batch"] = _ids(session, ImportBatch.__table__, ImportBatch.user_id == t.user_id, False)
    t.ids["export_job"] = _ids(session, ExportJob.__table__, ExportJob.owner_id == t.user_id, False)


def _ids(session, table: Table, condition, national: bool) -> set[int]:
    query = select(table.c.id)
    return set(session.scalars(query if national else query.where(condition)))


def _codes(session, t: Territory, operateur_id: int | None) -> tuple[list[str], str | None]:
    """Dashboard codes inside the territory, and one naming nothing inside at any level."""
    rows = session.execute(select(Departement.code, Region.code, Structure.id, Structure.operateur_id)
                           .join(Departement, Departement.id == Structure.departement_id)
                           .join(Region, Region.id == Departement.region_id)).all()
    dep_in = {r[0] for r in rows if r[2] in t.ids["structure"]}
    reg_in = {r[1] for r in rows if r[2] in t.ids["structure"]}
    ops_in = {str(o) for o in t.ids["operateur"]}
    operateur = operateur_id if t.is_operateur else min(t.ids["operateur"])
    codes = ["FR", min(reg_in), min(dep_in), str(operateur)]
    candidates = sorted({r[0] for r in rows} | {r[1] for r in rows})
    out = next((c for c in candidates if c not in dep_in | reg_in
                and not (c.isdigit() and str(int(c)) in ops_in)), None)
    return codes, out


def markers(session, t: Territory) -> tuple[dict[str, str], set[str]]:
    """Values of the records outside the territory (value → what it is), and those inside.

    An opérateur without any structure belongs to no territory: neither forbidden nor expected
    (agents pick it in drop-downs to create a structure), except for another opérateur."""
    forbidden: dict[str, str] = {}
    allowed: set[str] = set()
    used = set(session.scalars(select(Structure.operateur_id).distinct()))
    for model, columns in MARKED.items():
        inside = t.ids[model.__tablename__]
        for row in session.execute(select(model.id, *(getattr(model, c) for c in columns))):
            pk, values = row[0], [v for v in row[1:] if v]
            unused = model is Operateur and pk not in used and not t.is_operateur
            if t.national or pk in inside or unused:
                allowed.update(values)
            else:
                forbidden.update({v: f"{model.__tablename__} {pk} « {v} »" for v in values})
    return {v: label for v, label in forbidden.items() if v not in allowed}, allowed
