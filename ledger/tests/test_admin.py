import pytest

from ledger.models import Account, Entry, Hold, IdempotencyKey, Transaction

from .factories import UserFactory, fund

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Account, Transaction, Entry, Hold, IdempotencyKey])
def test_the_admin_shows_the_books_but_cannot_add_change_or_delete(admin_client, model):
    fund(UserFactory(), 5)
    base = f"/admin/ledger/{model._meta.model_name}/"
    assert admin_client.get(base).status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    obj = model.objects.first()
    if obj is not None:
        assert admin_client.get(f"{base}{obj.pk}/change/").status_code == 200  # a read-only view
        assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
