"""My library (/marketplace/library/): what I bought and rent, with its download while access lasts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import Listing, Purchase

from .buying import purchase as buy

pytestmark = pytest.mark.django_db


def _row(body: str, listing) -> str:
    return body.split(f'data-listing-id="{listing.listing_id}"', 1)[1].split("</tr>", 1)[0]


def test_the_library_lists_a_purchase_and_a_rental_with_its_expiry_and_their_downloads(client, make_user, api_for, listed):
    ada, bob = make_user("ada"), make_user("bob")
    bought, rented = listed(ada, title="digits to keep", buy=10), listed(ada, title="digits to rent", buy=None, rent=2)
    assert buy(api_for(bob), bought).status_code == 201
    assert buy(api_for(bob), rented, kind="rent", key="k2").status_code == 201
    rent = Purchase.objects.get(listing=rented)
    client.force_login(bob)

    body = client.get("/marketplace/library/").content.decode()

    assert body.count("<tr data-purchase=") == 2
    assert body.index("digits to rent") < body.index("digits to keep")  # newest first
    kept = _row(body, bought)
    assert f'href="/marketplace/{bought.listing_id}/"' in kept and "bought" in kept and "10.00 FTNS" in kept
    assert "never (bought)" in kept
    assert f'href="/api/v1/marketplace/models/{bought.listing_id}/download/?format=onnx"' in kept
    renting = _row(body, rented)
    assert "rented" in renting and "2.00 FTNS" in renting
    assert f'datetime="{rent.expires_at.isoformat()}"' in renting and "expired" not in renting
    assert f'href="/api/v1/marketplace/models/{rented.listing_id}/download/?format=onnx"' in renting


def test_an_expired_rental_shows_expired_and_no_download(client, make_user, api_for, listed):
    rented = listed(make_user("ada"), buy=None, rent=2)
    bob = make_user("bob")
    assert buy(api_for(bob), rented, kind="rent").status_code == 201
    Purchase.objects.filter(listing=rented).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(bob)

    row = _row(client.get("/marketplace/library/").content.decode(), rented)

    assert "expired" in row and "the rent has ended" in row and "/download/" not in row
    assert api_for(bob).get(f"/api/v1/marketplace/models/{rented.listing_id}/download/?format=onnx").status_code == 403


def test_a_suspended_listing_keeps_its_row_without_a_download(client, make_user, api_for, listed):
    listing = listed(make_user("ada"))
    bob = make_user("bob")
    assert buy(api_for(bob), listing).status_code == 201
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SUSPENDED)
    client.force_login(bob)

    row = _row(client.get("/marketplace/library/").content.decode(), listing)

    assert "suspended by a moderator" in row and "/download/" not in row


def test_the_library_shows_only_my_own_purchases(client, make_user, api_for, listed):
    listing = listed(make_user("ada"))
    assert buy(api_for(make_user("bob")), listing).status_code == 201
    client.force_login(make_user("eve"))

    body = client.get("/marketplace/library/").content.decode()

    assert "<tr data-purchase=" not in body and 'id="library-empty"' in body


@pytest.mark.parametrize("path", ["/marketplace/library/", "/marketplace/selling/", "/marketplace/selling/revenue.json"])
def test_a_visitor_is_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"
