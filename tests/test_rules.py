"""The domain rules of app/rules.py, as every write path (form, API, import, grid) sees them."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from app.rules import RuleViolation, check, validate
from models import Convention, Structure
from models.enums import StatutConvention, TypeStructure


@pytest.fixture(autouse=True)
def _ctx(app):
    with app.test_request_context():
        yield


def fields(errors) -> list[str]:
    return sorted(e.field for e in errors)


def test_a_valid_structure_has_no_error():
    values = {"type": TypeStructure.CADA, "code_finess": "140000001", "departement": "14",
              "code_postal": "14000", "date_creation": dt.date(2010, 1, 1),
              "date_303": dt.date(2012, 1, 1), "debut_convention": dt.date(2024, 1, 1),
              "fin_convention": dt.date(2026, 12, 31)}
    assert validate(Structure, values) == []


def test_every_structure_error_is_collected_with_its_field_in_french():
    values = {"type": "CADA", "code_finess": "", "departement": "14", "code_postal": "75001",
              "date_creation": dt.date(2015, 1, 1), "date_303": dt.date(2012, 1, 1),
              "debut_autorisation": dt.date(2020, 1, 1), "fin_autorisation": dt.date(2019, 1, 1)}
    errors = validate("structure", values)
    assert fields(errors) == ["code_postal", "date_303", "fin_autorisation"]
    messages = " ".join(e.message for e in errors)
    assert "ne correspond pas au département 14" in messages and "FINESS" not in messages


def test_a_cada_without_finess_is_to_complete_not_refused():
    from app.pilotage.completude import missing_in_row

    assert validate("structure", {"type": "CADA", "code_finess": None, "departement": "14"}) == []
    assert "Code FINESS" in [str(label) for label in missing_in_row("structure", {"type": "CADA"})]
    assert "Code FINESS" not in [str(label) for label in missing_in_row("structure", {"type": "HUDA"})]
    assert fields(validate("structure", {"type": "CADA", "code_finess": "14000000"})) == ["code_finess"]


def test_finess_is_nine_characters_and_optional_for_huda():
    assert validate("structure", {"type": "HUDA", "code_finess": None}) == []
    assert fields(validate("structure", {"type": "HUDA", "code_finess": "1234"})) == ["code_finess"]


@pytest.mark.parametrize("dep,cp,ok", [("2A", "20000", True), ("2B", "20200", True),
                                       ("974", "97400", True), ("974", "97100", False),
                                       ("01", "01000", True), ("01", "1000", False)])
def test_postal_code_prefix_matches_the_departement(dep, cp, ok):
    errors = validate("Structure", {"type": "HUDA", "departement": dep, "code_postal": cp})
    assert (errors == []) is ok


def test_partial_update_is_checked_against_the_stored_record():
    current = SimpleNamespace(type=TypeStructure.CPH, code_finess="140000001",
                              departement=SimpleNamespace(code="14"), code_postal="14000",
                              date_creation=None, date_303=dt.date(2012, 1, 1))
    assert validate(Structure, {"date_creation": dt.date(2011, 5, 1)}, current) == []
    assert fields(validate(Structure, {"date_creation": dt.date(2013, 5, 1)}, current)) == ["date_303"]
    assert validate(Structure, {"code_finess": None}, current) == []   # « à compléter »
    assert fields(validate(Structure, {"code_finess": "1400"}, current)) == ["code_finess"]


def test_a_move_by_departement_id_is_checked_against_the_new_departement():
    from sqlalchemy import select

    from app.extensions import db
    from models import Departement

    manche = db.session.scalar(select(Departement.id).where(Departement.code == "50"))
    current = SimpleNamespace(type=TypeStructure.HUDA, code_finess=None, code_postal="14000",
                              departement=SimpleNamespace(code="14"), departement_id=1)
    assert validate(Structure, {"departement_id": manche, "code_postal": "50100"}, current) == []
    assert fields(validate(Structure, {"departement_id": manche}, current)) == ["code_postal"]


def test_places_are_positive_and_specific_places_within_authorised_ones():
    errors = validate("places_annee", {"places_autorisees": 50, "pmr": 60, "lgbt": 3,
                                       "fvv_teh": 51, "places_a_creer": -1})
    assert fields(errors) == ["fvv_teh", "places_a_creer", "pmr"]


def test_evaluation_notes_between_0_and_4():
    assert fields(validate("evaluation", {"note_globale": 4.5, "note_personnes": -1,
                                          "note_structure": 2})) == ["note_globale", "note_personnes"]


@pytest.mark.parametrize("email,phone,bad", [
    ("a.b@exemple.org", "01 23 45 67 89", []),
    ("a.b@exemple.org", "+33 6 12 34 56 78", []),
    ("pas-un-courriel", "0123", ["email", "telephone"]),
    (None, "+262 262 12 34 56", []),
])
def test_contact_email_and_phone_formats(email, phone, bad):
    assert fields(validate("contact", {"email": email, "telephone": phone})) == bad


def test_siret_is_14_digits_with_a_valid_luhn_key():
    assert validate("operateur", {"siret": "73282932000074"}) == []
    assert "clé de contrôle" in validate("operateur", {"siret": "73282932000075"})[0].message
    assert fields(validate("operateur", {"siret": "123"})) == ["siret"]


def test_convention_statut_follows_the_workflow():
    draft = SimpleNamespace(statut=StatutConvention.BROUILLON, date_debut=None, date_fin=None,
                            montant=None)
    assert validate(Convention, {"statut": "EN_NEGOCIATION"}, draft) == []
    errors = validate(Convention, {"statut": StatutConvention.SIGNEE, "montant": -5}, draft)
    assert fields(errors) == ["montant", "statut"]
    assert "ne peut pas passer" in errors[-1].message


def test_check_raises_once_with_every_error():
    with pytest.raises(RuleViolation) as info:
        check("convention", {"date_debut": dt.date(2025, 1, 1), "date_fin": dt.date(2024, 1, 1),
                             "montant": -1})
    assert fields(info.value.errors) == ["date_fin", "montant"]
