"""The domain's validation rules, as plain functions every write path calls.

Forms, the REST API, the Excel import and the grid all call ``validate`` before writing:

    errors = validate("structure", {"code_postal": "75001", "departement": "14"}, current=None)
    # -> [RuleError(field="code_postal", message="Le code postal 75001 ne correspond pas ...")]

``model`` is a model class, its name (``"Structure"``) or its table name (``"structure"``).
``values`` holds the fields being written, already typed (dates, numbers, enums or their
codes); fields left out are taken from ``current`` (the record as stored, ``None`` for a
creation), so a partial update is checked against the whole record. Every rule runs: the
result lists every error (field + French message), never only the first one.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from flask_babel import gettext as _

from app.extensions import db
from models import __all__ as names, Departement
import models
from models.enums import StatutConvention, TRANSITIONS_CONVENTION
from models.vue import MAX_ETAT, MAX_NOM


@dataclass(frozen=True)
class RuleError:
    """One broken rule: the field concerned (``None`` for the whole record) and a French message."""

    field: Optional[str]
    message: str

    def __str__(self) -> str:
        return self.message


class RuleViolation(ValueError):
    """Raised by ``check`` with every broken rule of a record."""

    def __init__(self, errors: list[RuleError]):
        super().__init__(" ; ".join(e.message for e in errors))
        self.errors = errors


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE_RE = re.compile(r"^(?:(?:\+|00)33|0)[1-9]\d{8}$")
PHONE_DOM_RE = re.compile(r"^(?:\+|00)(?:262|269|508|590|594|596|687|689|681)\d{6,9}$")
#: (start, end) date fields of each period, per table.
PERIODS = {
    "structure": [("debut_autorisation", "fin_autorisation", "autorisation")],
    "convention": [("date_debut", "date_fin", "convention")],
    "document": [("periode_debut", "periode_fin", "période")],
}
NON_NEGATIVE = {
    "places_annee": ("places_autorisees", "pmr", "lgbt", "fvv_teh", "places_a_creer",
                     "places_a_fermer"),
    "adresse_annee": ("places_autorisees",),
    "activite_mensuelle": ("places_autorisees", "places_occupees", "places_vacantes",
                           "places_indisponibles", "desinsectisation", "remise_en_etat",
                           "sous_occupation", "travaux", "presences_indues_bpi",
                           "presences_indues_deboutes"),
    "budget_annee": ("etp", "dotation_demandee", "dotation_accordee"),
    "convention": ("montant",),
}
NOTES = ("note_personnes", "note_professionnels", "note_structure", "note_globale")


# --- value helpers -----------------------------------------------------------------------

def _table(model: Any) -> str:
    if isinstance(model, str):
        if model in names:
            return getattr(models, model).__tablename__
        return model.lower()
    return model.__tablename__


def _merged(values: dict, current: Any, fields) -> dict:
    merged = {}
    for name in fields:
        if name in values:
            merged[name] = values[name]
        elif current is not None:
            merged[name] = getattr(current, name, None)
        else:
            merged[name] = None
    return merged


def _code(value: Any) -> Optional[str]:
    """An enum member or its code → the code."""
    if value is None or value == "":
        return None
    return str(getattr(value, "value", value))


def _number(value: Any) -> Optional[Decimal]:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _date(value: Any) -> Optional[dt.date]:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- single-field checks (usable on their own) -------------------------------------------

def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by SIREN/SIRET numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def siret_error(value: Any) -> Optional[str]:
    """French message when ``value`` is not a valid SIRET (14 digits, Luhn), else ``None``."""
    if _blank(value):
        return None
    text = re.sub(r"\s", "", str(value))
    if not re.fullmatch(r"\d{14}", text):
        return _("Le SIRET doit comporter 14 chiffres.")
    if not luhn_ok(text):
        return _("Le SIRET %(siret)s n'est pas valide (clé de contrôle incorrecte).", siret=text)
    return None


def email_error(value: Any) -> Optional[str]:
    if _blank(value) or EMAIL_RE.match(str(value).strip()):
        return None
    return _("Adresse électronique invalide : %(v)s.", v=value)


def phone_error(value: Any) -> Optional[str]:
    if _blank(value):
        return None
    text = re.sub(r"[\s.\-()]", "", str(value))
    if PHONE_RE.match(text) or PHONE_DOM_RE.match(text):
        return None
    return _("Numéro de téléphone invalide : %(v)s (format attendu : 01 23 45 67 89 ou +33 1 23 45 67 89).",
             v=value)


def departement_code(value: Any) -> Optional[str]:
    """The code of a département given as a ``Departement``, its code, or its id."""
    if value is None or value == "":
        return None
    if hasattr(value, "code"):
        return value.code
    if isinstance(value, int):
        dep = db.session.get(Departement, value)
        return dep.code if dep else None
    return str(value).strip().upper()


def postal_code_error(value: Any, dep_code: Optional[str] = None) -> Optional[str]:
    """French message when a postal code is not 5 digits or does not fit the département."""
    if _blank(value):
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{5}", text):
        return _("Le code postal doit comporter 5 chiffres.")
    if dep_code:
        expected = "20" if dep_code in ("2A", "2B") else dep_code
        if not text.startswith(expected):
            return _("Le code postal %(cp)s ne correspond pas au département %(dep)s.",
                     cp=text, dep=dep_code)
    return None


def transition_error(old: Any, new: Any) -> Optional[str]:
    """French message when a convention may not move from statut ``old`` to ``new``."""
    old_code, new_code = _code(old), _code(new)
    if old_code is None or new_code is None or old_code == new_code:
        return None
    try:
        old_s, new_s = StatutConvention(old_code), StatutConvention(new_code)
    except ValueError:
        return _("Statut inconnu : %(v)s.", v=new_code)
    if new_s in TRANSITIONS_CONVENTION[old_s]:
        return None
    allowed = ", ".join(str(s.label) for s in TRANSITIONS_CONVENTION[old_s]) or _("aucun")
    return _("Une convention « %(old)s » ne peut pas passer à « %(new)s » (possible : %(allowed)s).",
             old=old_s.label, new=new_s.label, allowed=allowed)


# --- rules per table ---------------------------------------------------------------------

def _periods(table: str, v: dict) -> list[RuleError]:
    errors = []
    for start, end, label in PERIODS.get(table, []):
        d1, d2 = _date(v.get(start)), _date(v.get(end))
        if d1 and d2 and d2 <= d1:
            errors.append(RuleError(end, _("La fin de la période (%(label)s) doit être postérieure "
                                           "à son début.", label=label)))
    return errors


def _non_negative(table: str, v: dict) -> list[RuleError]:
    errors = []
    for name in NON_NEGATIVE.get(table, ()):
        number = _number(v.get(name))
        if number is not None and number < 0:
            errors.append(RuleError(name, _("La valeur ne peut pas être négative.")))
    return errors


def _structure(v: dict) -> list[RuleError]:
    errors = []
    created, d303 = _date(v.get("date_creation")), _date(v.get("date_303"))
    if created and d303 and created > d303:
        errors.append(RuleError("date_303", _("La date 303 ne peut pas précéder la date de création.")))
    finess = v.get("code_finess")
    # a missing FINESS is a gap (``app.pilotage.completude``: the fiche is « à compléter »), never a
    # refusal; only a FINESS present but wrong is an error
    if not _blank(finess) and not re.fullmatch(r"[0-9A-Za-z]{9}", str(finess).strip()):
        errors.append(RuleError("code_finess", _("Le code FINESS comporte 9 caractères.")))
    dep = departement_code(v.get("departement") or v.get("departement_id"))
    message = postal_code_error(v.get("code_postal"), dep)
    if message:
        errors.append(RuleError("code_postal", message))
    return errors


def _places(v: dict) -> list[RuleError]:
    errors = []
    places = _number(v.get("places_autorisees"))
    if places is None:
        return errors
    for name, label in (("pmr", "PMR"), ("lgbt", "LGBT"), ("fvv_teh", "FVV/TEH")):
        number = _number(v.get(name))
        if number is not None and number > places:
            errors.append(RuleError(name, _("Les places %(label)s (%(n)s) dépassent les places "
                                            "autorisées (%(p)s).", label=label, n=number, p=places)))
    return errors


def _evaluation(v: dict) -> list[RuleError]:
    errors = []
    for name in NOTES:
        number = _number(v.get(name))
        if number is not None and not 0 <= number <= 4:
            errors.append(RuleError(name, _("Une note est comprise entre 0 et 4.")))
    return errors


def _contact(v: dict) -> list[RuleError]:
    errors = []
    for name, check in (("email", email_error), ("telephone", phone_error)):
        message = check(v.get(name))
        if message:
            errors.append(RuleError(name, message))
    return errors


def _operateur(v: dict) -> list[RuleError]:
    message = siret_error(v.get("siret"))
    return [RuleError("siret", message)] if message else []


def _adresse(v: dict) -> list[RuleError]:
    structure = v.get("structure")
    dep = getattr(getattr(structure, "departement", None), "code", None)
    message = postal_code_error(v.get("code_postal"), dep)
    return [RuleError("code_postal", message)] if message else []


def _vue(v: dict) -> list[RuleError]:
    """A saved view: a name, and a state that is a JSON object of bounded size (what it holds
    is checked against its page by ``app.vues``)."""
    import json


    errors = []
    nom = (v.get("nom") or "").strip() if isinstance(v.get("nom"), str) else ""
    if not nom:
        errors.append(RuleError("nom", _("Donnez un nom à la vue.")))
    elif len(nom) > MAX_NOM:
        errors.append(RuleError("nom", _("Nom de vue trop long (%(n)d caractères au plus).", n=MAX_NOM)))
    etat = v.get("etat")
    if not isinstance(etat, str) or len(etat) > MAX_ETAT:
        errors.append(RuleError("etat", _("État de la vue trop volumineux (%(n)d caractères au plus).",
                                          n=MAX_ETAT)))
    else:
        try:
            parsed = json.loads(etat)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            errors.append(RuleError("etat", _("État de la vue illisible : un objet JSON est attendu.")))
    return errors


def _convention_structure(v: dict) -> list[RuleError]:
    entree, sortie = _number(v.get("annee_entree")), _number(v.get("annee_sortie"))
    if entree is not None and sortie is not None and sortie < entree:
        return [RuleError("annee_sortie", _("L'année de sortie précède l'année d'entrée."))]
    return []


#: Table → (fields the rule reads, rule function).
_RULES: dict[str, tuple[tuple[str, ...], Callable[[dict], list[RuleError]]]] = {
    "structure": (("date_creation", "date_303", "code_finess", "departement",
                   "departement_id", "code_postal"), _structure),
    "places_annee": (("places_autorisees", "pmr", "lgbt", "fvv_teh"), _places),
    "evaluation": (NOTES, _evaluation),
    "contact": (("email", "telephone"), _contact),
    "operateur": (("siret",), _operateur),
    "adresse": (("structure", "code_postal"), _adresse),
    "convention_structure": (("annee_entree", "annee_sortie"), _convention_structure),
    "vue_enregistree": (("nom", "etat"), _vue),
}


def validate(model: Any, values: dict, current: Any = None) -> list[RuleError]:
    """Every broken domain rule of ``model`` once ``values`` are applied to ``current``.

    Returns an empty list when the record is valid. Never raises on bad data.
    """
    table = _table(model)
    fields = set(values)
    for start, end, _label in PERIODS.get(table, []):
        fields |= {start, end}
    fields |= set(NON_NEGATIVE.get(table, ()))
    if table in _RULES:
        fields |= set(_RULES[table][0])
    v = _merged(values, current, fields)
    if "departement" in v and v["departement"] is None and "departement_id" not in values:
        v["departement"] = getattr(current, "departement", None) if current is not None else None
    if "departement_id" in values and "departement" not in values:
        v["departement"] = values["departement_id"]  # the new département, not the stored one
    errors = _periods(table, v) + _non_negative(table, v)
    if table in _RULES:
        errors += _RULES[table][1](v)
    if table == "convention" and current is not None and "statut" in values:
        message = transition_error(getattr(current, "statut", None), values["statut"])
        if message:
            errors.append(RuleError("statut", message))
    return errors


def check(model: Any, values: dict, current: Any = None) -> None:
    """``validate``, raising ``RuleViolation`` (with every error) when a rule is broken."""
    errors = validate(model, values, current)
    if errors:
        raise RuleViolation(errors)
