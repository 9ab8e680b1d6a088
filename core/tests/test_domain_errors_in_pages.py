"""A page shows a DomainError once, the same way everywhere: beside the form field it names, above
the form, or as an error message (the moderation console's use: safety/tests/test_moderation_console.py)."""

import pytest
from django import forms

from core.errors import DomainError
from core.views import domain_errors_shown


class PriceForm(forms.Form):
    price = forms.IntegerField()


def test_an_error_about_a_field_is_shown_beside_it_and_the_view_goes_on():
    form = PriceForm({"price": "5"})
    assert form.is_valid()
    with domain_errors_shown(None, form=form) as shown:
        raise DomainError("Over the platform's share.", field="price")
    assert shown.error is not None
    assert form.errors == {"price": ["Over the platform's share."]}


def test_an_error_about_no_field_of_the_form_goes_above_it():
    form = PriceForm({"price": "5"})
    form.is_valid()
    with domain_errors_shown(None, form=form):
        raise DomainError("This listing is not on sale.", field="status")
    assert form.non_field_errors() == ["This listing is not on sale."]


def test_other_exceptions_pass_through():
    with pytest.raises(KeyError), domain_errors_shown(None):
        raise KeyError("a bug")
