"""The seven canonical sheets of the BHasile workbook, in the order the contract gives.

Each column is declared here once, with the headers agents use for it (aliases).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.scope import Scope, structure_condition
from models import (ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, Convention,
                    ConventionStructure, Departement, Operateur, PlacesAnnee, Structure)
from models.enums import Public, Repartition, StatutConvention, TypeConvention, TypeStructure

from .kinds import Boolean, Choice, Code, Coordinate, Date, Integer, Month, Number, Text, Year
from .refs import CodeList, DepartementRef, OperateurRef, StructureRef
from .schema import Column, Sheet

SCHEMA_VERSION = "1"
DNA_ALIASES = ("DNA", "N° DNA", "Code OFII", "Numéro DNA")
PLACES_ALIASES = ("Nb places", "Nombre de places", "Capacité", "Places", "Capacité autorisée")
S, P, B, A = Structure, PlacesAnnee, BudgetAnnee, ActiviteMensuelle


def _dna(model_attr=Structure.code_dna) -> Column:
    return Column("code_dna", StructureRef(), model_attr, DNA_ALIASES, attr="structure_id",
                  required=True)


def _int(field: str, model, *aliases: str) -> Column:
    return Column(field, Integer(), getattr(model, field), aliases)


def _money(field: str, model, *aliases: str) -> Column:
    return Column(field, Number(2, money=True), getattr(model, field), aliases)


STRUCTURES = Sheet(
    "Structures", Structure, [
        Column("code_dna", Code(10), S.code_dna, DNA_ALIASES, required=True, section="description"),
        Column("nom", Text(200), S.nom, ("Nom de la structure", "Libellé", "Intitulé"),
               section="description"),
        Column("type", Choice(TypeStructure), S.type, ("Type de structure", "Catégorie"),
               required=True, section="description"),
        Column("operateur", OperateurRef(), Operateur.nom, ("Gestionnaire", "Association"),
               attr="operateur_id", section="description"),
        Column("filiale", Text(200), S.filiale, section="description"),
        Column("departement", DepartementRef(), Departement.code, ("Dpt", "Dépt", "Dept"),
               attr="departement_id", required=True, section="description"),
        Column("adresse_administrative", Text(300), S.adresse_administrative, section="description"),
        Column("code_postal", Code(5, pad=5, digits=True), S.code_postal, ("CP",), section="description"),
        Column("commune", Text(150), S.commune, ("Ville",), section="description"),
        Column("code_finess", Code(9, pad=9), S.code_finess, ("FINESS",), section="description"),
        Column("public", Choice(Public), S.public, ("Public accueilli",), section="description"),
        Column("date_creation", Date(), S.date_creation, ("Création",), section="calendrier"),
        Column("date_303", Date(), S.date_303, section="calendrier"),
        Column("lgbt", Boolean(), S.lgbt, section="description"),
        Column("fvv_teh", Boolean(), S.fvv_teh, ("FVV TEH", "FVV-TEH"), section="description"),
        Column("debut_autorisation", Date(), S.debut_autorisation, section="calendrier"),
        Column("fin_autorisation", Date(), S.fin_autorisation, ("Échéance autorisation",),
               section="calendrier"),
        # the current convention's dates (models/convention.py): exported, never imported
        Column("debut_convention", Date(), S.debut_convention, read_only=True, section="convention"),
        Column("fin_convention", Date(), S.fin_convention,
               ("Échéance convention", "Date fin convention", "Date de fin de convention"),
               read_only=True, section="convention"),
        Column("latitude", Coordinate(90), S.latitude, ("Lat",), section="description"),
        Column("longitude", Coordinate(180), S.longitude, ("Long", "Lng", "Lon"), section="description"),
        Column("notes", Text(10000, 40), S.notes, ("Remarques", "Observations"), section="description"),
        Column("site_internet", Text(300), S.site_internet, ("Site web",), section="description",
               title=_l("Site internet")),
    ],
    key=("code_dna",), area="structure",
    source=lambda q: q.select_from(Structure).outerjoin(Operateur, S.operateur_id == Operateur.id)
    .join(Departement, S.departement_id == Departement.id),
    ids=(S.id, S.version), order=(S.code_dna,), aliases=("Structure", "Liste des structures"),
)

PLACES = Sheet(
    "Places", PlacesAnnee, [
        _dna(), Column("annee", Year(), P.annee, ("Exercice",), required=True),
        _int("places_autorisees", P, *PLACES_ALIASES), _int("pmr", P, "Places PMR"),
        _int("lgbt", P, "Places LGBT"), _int("fvv_teh", P, "FVV TEH", "Places FVV/TEH"),
        _int("places_a_creer", P),
        Column("echeance_places_a_creer", Date(), P.echeance_places_a_creer),
        _int("places_a_fermer", P),
        Column("echeance_places_a_fermer", Date(), P.echeance_places_a_fermer),
    ],
    key=("code_dna", "annee"), area="places", year_field="annee",
    source=lambda q: q.select_from(PlacesAnnee).join(Structure, P.structure_id == S.id),
    ids=(P.id, P.version), order=(S.code_dna, P.annee), aliases=("Typologie", "Places par année"),
)

BUDGETS = Sheet(
    "Budgets", BudgetAnnee, [
        _dna(), Column("annee", Year(), B.annee, ("Exercice",), required=True),
        Column("etp", Number(2, minimum=0), B.etp, ("Effectif", "ETP total")),
        Column("taux_encadrement", Number(2), B.taux_encadrement),
        Column("cout_journalier", Number(2), B.cout_journalier,
               ("Coût/jour/place", "Prix de journée", "Coût place jour", "Coût par jour")),
        _money("dotation_demandee", B),
        _money("dotation_accordee", B, "Dotation", "DGF", "Dotation globale",
               "Dotation globale de financement"),
        _money("total_produits", B), _money("total_charges", B),
        _money("total_charges_proposees", B), _money("cumul_resultats_nets_cpom", B),
        _money("reprise_etat", B), _money("excedent_recupere", B), _money("excedent_deduit", B),
        _money("affectation_reserves_fonds_dedies", B), _money("reserve_investissement", B),
        _money("charges_non_reconductibles", B), _money("reserve_compensation_deficits", B),
        _money("reserve_couverture_bfr", B), _money("reserve_compensation_amortissements", B),
        _money("fonds_dedies", B), _money("report_a_nouveau", B), _money("autre", B),
        Column("commentaire", Text(10000, 40), B.commentaire),
    ],
    key=("code_dna", "annee"), area="budget", year_field="annee",
    source=lambda q: q.select_from(BudgetAnnee).join(Structure, B.structure_id == S.id),
    ids=(B.id, B.version), order=(S.code_dna, B.annee), aliases=("Budget", "Finances"),
)

ACTIVITE = Sheet(
    "Activité", ActiviteMensuelle, [
        _dna(), Column("mois", Month(), A.mois, ("Période",), required=True),
        _int("places_autorisees", A, *PLACES_ALIASES), _int("places_occupees", A, "Occupées"),
        _int("places_vacantes", A, "Vacantes"), _int("places_indisponibles", A, "Indisponibles"),
        _int("desinsectisation", A), _int("remise_en_etat", A), _int("sous_occupation", A),
        _int("travaux", A), _int("presences_indues_bpi", A, "BPI"),
        _int("presences_indues_deboutes", A, "Déboutés"),
    ],
    key=("code_dna", "mois"), area="activite",
    source=lambda q: q.select_from(ActiviteMensuelle).join(Structure, A.structure_id == S.id),
    ids=(A.id, A.version), order=(S.code_dna, A.mois),
    aliases=("Activite mensuelle", "Activité OFII", "OFII"),
)

ADRESSES = Sheet(
    "Adresses", AdresseAnnee, [
        Column("id", Integer(minimum=1), Adresse.id, ("Identifiant",), read_only=True),
        Column("code_dna", StructureRef(), S.code_dna, DNA_ALIASES, attr="structure_id",
               target="parent", required=True),
        Column("adresse", Text(300), Adresse.adresse, ("Adresse du logement",), target="parent",
               required=True),
        Column("code_postal", Code(5, pad=5, digits=True), Adresse.code_postal, ("CP",),
               target="parent"),
        Column("commune", Text(150), Adresse.commune, ("Ville",), target="parent"),
        Column("repartition", Choice(Repartition), Adresse.repartition, ("Bâti", "Type de bâti"),
               target="parent", required=True),
        Column("annee", Year(), AdresseAnnee.annee),
        _int("places_autorisees", AdresseAnnee, *PLACES_ALIASES),
        Column("qpv", Boolean(), AdresseAnnee.qpv),
        Column("logement_social", Boolean(), AdresseAnnee.logement_social),
    ],
    key=("id", "annee"), area="adresse", year_field="annee", parent=Adresse,
    source=lambda q: q.select_from(Adresse).join(Structure, Adresse.structure_id == S.id)
    .outerjoin(AdresseAnnee, AdresseAnnee.adresse_id == Adresse.id),
    ids=(AdresseAnnee.id, AdresseAnnee.version, Adresse.id, Adresse.version),
    order=(S.code_dna, Adresse.id, AdresseAnnee.annee), aliases=("Adresse", "Hébergements"),
)

OPERATEURS = Sheet(
    "Opérateurs", Operateur, [
        Column("nom", Text(200), Operateur.nom, ("Opérateur", "Raison sociale", "Gestionnaire"),
               required=True),
        Column("siret", Code(14, pad=14, digits=True), Operateur.siret, ("N° SIRET",)),
        Column("direction_generale", Text(300), Operateur.direction_generale),
        Column("siege_social", Text(300), Operateur.siege_social, ("Siège",)),
    ],
    key=("nom",), area="operateur",
    source=lambda q: q.select_from(Operateur),
    ids=(Operateur.id, Operateur.version), order=(Operateur.nom,), aliases=("Operateur", "Gestionnaires"),
)


def _convention_codes(session, ids: list[int], scope: Scope) -> dict[int, dict]:
    """The codes DNA of each convention's structures inside ``scope``: a CPOM covering several
    départements shows an agent only their own (and an import compares and writes only those)."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for cid, code in session.execute(
                select(ConventionStructure.convention_id, Structure.code_dna)
                .join(Structure, ConventionStructure.structure_id == S.id)
                .where(ConventionStructure.convention_id.in_(chunk), structure_condition(scope))):
            found[cid].append(code)
    return {cid: {"codes_dna": tuple(sorted(codes))} for cid, codes in found.items()}


CONVENTIONS = Sheet(
    "Conventions", Convention, [
        Column("reference", Code(100), Convention.reference, ("Réf", "N° de convention"),
               required=True),
        Column("type", Choice(TypeConvention), Convention.type, ("Type de convention",),
               required=True),
        Column("operateur", OperateurRef(), Operateur.nom, ("Gestionnaire", "Association"),
               attr="operateur_id"),
        Column("statut", Choice(StatutConvention), Convention.statut, ("État",)),
        Column("date_debut", Date(), Convention.date_debut, ("Début",)),
        Column("date_fin", Date(), Convention.date_fin, ("Fin", "Échéance")),
        Column("montant", Number(2, minimum=0, money=True), Convention.montant),
        Column("codes_dna", CodeList(), None, ("Codes DNA", "Structures", "DNA")),
    ],
    key=("reference",), area="convention",
    source=lambda q: q.select_from(Convention).outerjoin(Operateur, Convention.operateur_id == Operateur.id),
    ids=(Convention.id, Convention.version), order=(Convention.reference,),
    aliases=("Convention", "CPOM"), extra=_convention_codes,
)

SHEETS: list[Sheet] = [STRUCTURES, PLACES, BUDGETS, ACTIVITE, ADRESSES, OPERATEURS, CONVENTIONS]
BY_NAME: dict[str, Sheet] = {s.name: s for s in SHEETS}
#: The order rows are written in: a row may refer to one an earlier sheet creates.
APPLY_ORDER = [OPERATEURS, STRUCTURES, PLACES, BUDGETS, ACTIVITE, ADRESSES, CONVENTIONS]
#: Sheets keyed by code DNA whose columns may sit side by side in one agent's sheet.
WIDE_FAMILY = [STRUCTURES, PLACES, BUDGETS]
