"""French labels of the domain fields: one place, used by views, sheets and the grid."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # Structure
    "code_dna": _l("Code DNA"), "nom": _l("Nom"), "type": _l("Type"), "operateur": _l("Opérateur"),
    "filiale": _l("Filiale"), "departement": _l("Département"),
    "adresse_administrative": _l("Adresse administrative"), "code_postal": _l("Code postal"),
    "commune": _l("Commune"), "code_finess": _l("Code FINESS"), "public": _l("Public"),
    "date_creation": _l("Date de création"), "date_303": _l("Date 303"), "lgbt": _l("LGBT"),
    "fvv_teh": _l("FVV/TEH"), "debut_autorisation": _l("Début autorisation"),
    "fin_autorisation": _l("Fin autorisation"), "debut_convention": _l("Début convention"),
    "fin_convention": _l("Fin convention"), "latitude": _l("Latitude"), "longitude": _l("Longitude"),
    "notes": _l("Notes"), "region": _l("Région"), "bati": _l("Bâti"), "communes": _l("Communes"),
    "places_latest": _l("Places autorisées"),
    # Places
    "annee": _l("Année"), "places_autorisees": _l("Places autorisées"), "pmr": _l("PMR"),
    "places_a_creer": _l("Places à créer"), "echeance_places_a_creer": _l("Échéance places à créer"),
    "places_a_fermer": _l("Places à fermer"),
    "echeance_places_a_fermer": _l("Échéance places à fermer"),
    # Budget
    "etp": _l("ETP"), "taux_encadrement": _l("Taux d'encadrement"),
    "cout_journalier": _l("Coût journalier"), "dotation_demandee": _l("Dotation demandée"),
    "dotation_accordee": _l("Dotation accordée"), "total_produits": _l("Total produits"),
    "total_charges": _l("Total charges"), "total_charges_proposees": _l("Total charges proposées"),
    "cumul_resultats_nets_cpom": _l("Cumul résultats nets CPOM"), "reprise_etat": _l("Reprise État"),
    "excedent_recupere": _l("Excédent récupéré"), "excedent_deduit": _l("Excédent déduit"),
    "affectation_reserves_fonds_dedies": _l("Affectation réserves et fonds dédiés"),
    "reserve_investissement": _l("Réserve investissement"),
    "charges_non_reconductibles": _l("Charges non reconductibles"),
    "reserve_compensation_deficits": _l("Réserve compensation déficits"),
    "reserve_couverture_bfr": _l("Réserve couverture BFR"),
    "reserve_compensation_amortissements": _l("Réserve compensation amortissements"),
    "fonds_dedies": _l("Fonds dédiés"), "report_a_nouveau": _l("Report à nouveau"),
    "autre": _l("Autre"), "commentaire": _l("Commentaire"), "resultat_net": _l("Résultat net"),
    # Activité
    "mois": _l("Mois"), "places_occupees": _l("Places occupées"),
    "places_vacantes": _l("Places vacantes"), "places_indisponibles": _l("Places indisponibles"),
    "desinsectisation": _l("Désinsectisation"), "remise_en_etat": _l("Remise en état"),
    "sous_occupation": _l("Sous-occupation"), "travaux": _l("Travaux"),
    "presences_indues_bpi": _l("Présences indues BPI"),
    "presences_indues_deboutes": _l("Présences indues déboutés"),
    # Adresses
    "adresse": _l("Adresse"), "repartition": _l("Répartition"), "qpv": _l("QPV"),
    "logement_social": _l("Logement social"),
    # Opérateur, convention
    "siret": _l("SIRET"), "direction_generale": _l("Direction générale"),
    "siege_social": _l("Siège social"), "reference": _l("Référence"), "statut": _l("Statut"),
    "date_debut": _l("Date début"), "date_fin": _l("Date fin"), "montant": _l("Montant"),
    "structures": _l("Structures"), "annee_entree": _l("Année d'entrée"),
    "annee_sortie": _l("Année de sortie"), "convention": _l("Convention"),
    # Qualité, contacts, documents
    "date": _l("Date"), "numero": _l("Numéro"), "date_evenement": _l("Date de l'événement"),
    "date_declaration": _l("Date de déclaration"), "nature": _l("Nature"),
    "note_personnes": _l("Note personnes accueillies"),
    "note_professionnels": _l("Note professionnels"), "note_structure": _l("Note structure"),
    "note_globale": _l("Note globale"), "prenom": _l("Prénom"), "role": _l("Rôle"),
    "email": _l("Courriel"), "telephone": _l("Téléphone"), "categorie": _l("Catégorie"),
    "nom_original": _l("Fichier"), "taille": _l("Taille"), "mime_type": _l("Type de fichier"),
    "uploaded_by": _l("Déposé par"), "uploaded_at": _l("Déposé le"),
    "structure": _l("Structure"), "version": _l("Version"), "updated_at": _l("Modifié le"),
    "updated_by": _l("Modifié par"),
    # Workbook columns with no model field of that name
    "id": _l("ID"), "codes_dna": _l("Codes DNA"),
}


def labels(*fields: str) -> dict:
    """The label mapping for these fields (for FAB's ``label_columns``)."""
    return {f: LABELS[f] for f in fields if f in LABELS}


def enum_label(enum_class: type, value: object) -> object:
    """The French label of an enum value as FAB hands it to a list or show page (the raw
    value, e.g. ``"PROGRAMME"`` → « Programmé »); a value the enum does not know stays as is."""
    if value is None or value == "":
        return value
    try:
        member = enum_class(value)
    except (ValueError, TypeError):
        return value
    return member_label(member)


def member_label(member: object) -> str:
    """The French label of an enum member (its ``label``, else its value)."""
    return str(getattr(member, "label", getattr(member, "value", member)))
