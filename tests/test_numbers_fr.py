"""Numbers as agents type and read them: the one parser (``app.sheets.kinds.parse_number``)
reads back every number the forms, lists and fiches print; garbage is refused in French."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.jinja import fr_money
from app.numbers import FrenchDecimalField, FrenchIntegerField, input_text, read_number
from app.web.return_to import safe_next

AMOUNTS = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"),
                      places=2, allow_nan=False, allow_infinity=False)
SPACES = st.sampled_from([" ", "\u00a0", "\u202f"])


@pytest.fixture()
def fr(app):
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        yield


@settings(max_examples=300, deadline=None)
@given(value=AMOUNTS, space=SPACES)
def test_what_a_form_shows_reads_back_as_the_same_number(app, value, space):
    with app.test_request_context("/"):
        shown = input_text(value, 2)
        assert "," in shown and "." not in shown          # 1 647 860,15, never 1647860.15
        assert read_number(shown) == value
        assert read_number(shown.replace("\u202f", space)) == value  # typed with any space


@settings(max_examples=200, deadline=None)
@given(value=AMOUNTS)
def test_an_amount_printed_with_its_euro_sign_reads_back(app, value):
    with app.test_request_context("/"):
        printed = fr_money(value)
        assert printed.endswith(" €")
        assert read_number(printed) == value


@pytest.mark.parametrize("typed", ["1 647 860,15", "1647860,15", "1647860.15", "1\u00a0647\u00a0860,15",
                                   "1\u202f647\u202f860,15", " 1 647 860,15 "])
def test_every_way_an_agent_writes_an_amount_is_the_same_amount(typed):
    assert read_number(typed) == Decimal("1647860.15")


@pytest.mark.parametrize("garbage", ["douze", "1,2,3,4x", "12-", "NaN", "Infinity", "1e", "--1"])
def test_garbage_is_refused_with_a_french_sentence(fr, garbage):
    with pytest.raises(ValueError, match="n'est pas un nombre"):
        read_number(garbage)


def _field(cls, **kwargs):
    from wtforms import Form

    class F(Form):
        x = cls(**kwargs)

    return F


def test_a_decimal_field_reads_french_and_is_prefilled_in_french(fr):
    from werkzeug.datastructures import MultiDict

    form = _field(FrenchDecimalField)(MultiDict({"x": "1 650 000,00"}))
    assert form.validate() and form.x.data == Decimal("1650000.00")
    form = _field(FrenchDecimalField)(data={"x": Decimal("1647860.15")})
    assert form.x._value().replace("\u202f", " ") == "1 647 860,15"
    form = _field(FrenchDecimalField)(MultiDict({"x": "beaucoup"}))
    assert not form.validate()
    assert form.x.errors == ["« beaucoup » n'est pas un nombre (exemple : 1 647 860,15)."]
    assert form.x._value() == "beaucoup"              # what was typed, shown beside its error


def test_an_integer_field_refuses_a_fraction_and_keeps_years_ungrouped(fr):
    from werkzeug.datastructures import MultiDict

    form = _field(FrenchIntegerField)(MultiDict({"x": "1 200"}))
    assert form.validate() and form.x.data == 1200
    form = _field(FrenchIntegerField)(MultiDict({"x": "12,5"}))
    assert not form.validate() and "entier" in form.x.errors[0]
    form = _field(FrenchIntegerField)(MultiDict({"x": "99999999999"}))
    assert not form.validate() and "trop grand" in form.x.errors[0]
    assert _field(FrenchIntegerField)(data={"x": 2025}).x._value() == "2025"


def test_english_forms_are_prefilled_without_an_ambiguous_comma(app):
    with app.test_request_context("/"):
        from flask import session
        from flask_babel import refresh

        session["locale"] = "en"
        refresh()
        assert input_text(Decimal("1647860.15"), 2) == "1647860.15"


@pytest.mark.parametrize("target, expected", [
    ("/structureview/show/3#finances", "/structureview/show/3#finances"),
    ("/structureview/list/?_flt_0_nom=a", "/structureview/list/?_flt_0_nom=a"),
    ("https://evil.example/", None), ("//evil.example/x", None), ("/\\evil.example", None),
    ("\\\\evil.example", None), ("javascript:alert(1)", None), ("http:/evil", None),
    ("/ok\r\nSet-Cookie: x=1", None), ("", None), (None, None),
])
def test_only_a_path_of_this_site_is_followed(target, expected):
    assert safe_next(target) == expected
