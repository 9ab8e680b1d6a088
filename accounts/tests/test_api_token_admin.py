"""A superuser finds a leaked key by its prefix in the admin and revokes it; nobody adds one there."""

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_superuser_finds_a_key_by_its_prefix_and_revokes_it(client):
    owner = UserFactory(username="ada")
    token, key = services.api_token_create(user=owner, name="laptop")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listing = client.get(f"/admin/accounts/apitoken/?q={token.prefix}")
    assert listing.status_code == 200 and "laptop" in listing.content.decode()
    assert key not in listing.content.decode()
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403

    now = timezone.now()
    response = client.post(f"/admin/accounts/apitoken/{token.pk}/change/",
                           {"revoked_at_0": now.strftime("%Y-%m-%d"), "revoked_at_1": now.strftime("%H:%M:%S")})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
