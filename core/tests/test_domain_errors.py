"""A DomainError, raised anywhere under an API view, is answered once, by the exception handler, in
the API's error shape; Django's validation errors too. (An idempotent POST stores these answers:
ledger/tests/test_idempotency.py.)"""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.test import override_settings
from django.urls import path
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.errors import DomainError


class Refused(DomainError):
    status_code = 403
    code = "permission_denied"


class Refusing(APIView):
    permission_classes = []
    raised: Exception

    def post(self, request):
        raise self.raised


urlpatterns = [path("api/v1/refusing/", Refusing.as_view())]


@pytest.fixture
def refusing(monkeypatch):
    def answer(error):
        monkeypatch.setattr(Refusing, "raised", error, raising=False)
        response = APIClient().post("/api/v1/refusing/")
        return response.status_code, response.content

    return answer


@override_settings(ROOT_URLCONF=__name__)
def test_a_domain_error_answers_with_its_status_code_message_and_field(refusing):
    assert refusing(Refused("Only the owner can change it.", field="status")) == (
        403, b'{"error":{"code":"permission_denied","message":"Only the owner can change it.","field":"status"}}')
    assert refusing(DomainError("Already rated.")) == (409, b'{"error":{"code":"conflict","message":"Already rated."}}')


@override_settings(ROOT_URLCONF=__name__)
def test_its_extra_keys_go_beside_the_error(refusing):
    error = DomainError("Over the budget.", field="budget_ftns", code="over_budget", status_code=422,
                        extra={"estimate": {"cost_ftns": "1200"}})
    assert refusing(error) == (422, b'{"error":{"code":"over_budget","message":"Over the budget.",'
                                    b'"field":"budget_ftns"},"estimate":{"cost_ftns":"1200"}}')


@override_settings(ROOT_URLCONF=__name__)
def test_a_django_validation_error_from_a_service_is_a_400_naming_the_field(refusing):
    status, body = refusing(DjangoValidationError({"title": ["Ensure this value has at most 200 characters."]}))
    assert (status, body) == (400, b'{"error":{"code":"invalid","message":"Ensure this value has at most 200 '
                                   b'characters.","field":"title"}}')
