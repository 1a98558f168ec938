"""The BHasile domain, one module per area; importing this package registers every table."""
from .activite import ActiviteMensuelle
from .aggregates import AggATraiter, AggCarte, AggOperateur, AggStructure, AggStructureAnnee, AggTerritoire, JobLock, JobRun
from .annuel import BudgetAnnee, PlacesAnnee
from .campagne import Campagne, Tache, TacheCommentaire
from .convention import Convention, ConventionStructure
from .dialogue import DialogueBudgetaire, DialogueLigne, ModeleDocument, PlafondCout
from .document import Document
from .export import ExportJob
from .grid import GridPreference, GridSave
from .historique import Changement
from .imports import ImportBatch, ImportChange
from .operateur import Operateur
from .qualite import Controle, Eig, Evaluation
from .security import LoginThrottle, UserSession
from .structure import Adresse, AdresseAnnee, Contact, Structure
from .territoire import Departement, Region
from .user import BhasileUser
from .vue import VueEnregistree

__all__ = [
    "AggATraiter", "AggCarte", "AggOperateur", "AggStructure", "AggStructureAnnee", "AggTerritoire", "JobLock", "JobRun",
    "ActiviteMensuelle", "Adresse", "AdresseAnnee", "BhasileUser", "BudgetAnnee", "Changement",
    "Contact", "Controle", "Convention", "ConventionStructure", "Departement", "Document", "Eig",
    "Campagne", "Tache", "TacheCommentaire",
    "DialogueBudgetaire", "DialogueLigne", "ModeleDocument", "PlafondCout",
    "Evaluation", "ExportJob", "GridPreference", "GridSave", "ImportBatch", "ImportChange", "LoginThrottle", "Operateur", "PlacesAnnee", "Region", "Structure",
    "UserSession", "VueEnregistree",
]
