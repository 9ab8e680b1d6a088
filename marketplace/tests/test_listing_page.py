"""A listing's page (/marketplace/<id>/): its card, figures, lineage and price split; buying through a
confirmation that pays once; rating (buyers only) and reporting, refusals beside their forms."""

import re

import pytest

from ledger import selectors as ledger
from ledger.models import Account, Transaction
from ledger.services import system_account
from marketplace.models import Listing, ListingReport, Purchase, Rating

pytestmark = pytest.mark.django_db


def page_of(listing) -> str:
    return f"/marketplace/{listing.listing_id}/"


def confirmation(client, listing, kind="buy") -> dict:
    """The hidden fields of the rendered confirmation, as the browser would post them."""
    body = client.get(f"{page_of(listing)}purchase/", {"kind": kind}).content.decode()
    form = body.split('id="purchase-form"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))


def test_a_visitor_sees_the_card_figures_lineage_and_the_split(client, make_user, listed):
    listing = listed(make_user("ada"), title="digits small", buy=10, rent=2, retention=0.9)

    body = " ".join(client.get(page_of(listing)).content.decode().split())

    assert "<h1 id=\"listing-title\">digits small</h1>" in body and 'id="model-card"' in body
    assert "90.0" in body and 'id="comparison-table"' in body
    assert "catalog:" in body and "d" * 64 in body and str(listing.job.job_id) in body
    assert ("Of 10.00 FTNS, the creator gets 7.00 (70%), the teachers' owners 2.00 (20%) "
            "and the platform 1.00 (10%)." in body)
    assert 'id="login-to-buy"' in body and 'id="buy-button"' not in body and 'id="rate-form"' not in body


def test_a_suspended_listing_is_not_found_by_a_visitor(client, make_user, listed):
    listing = listed(make_user("ada"))
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SUSPENDED)
    assert client.get(page_of(listing)).status_code == 404


def test_a_visitor_is_sent_to_log_in_to_buy_rate_or_report(client, make_user, listed):
    listing = listed(make_user("ada"))
    for path in ("purchase/?kind=buy", "rate/", "report/"):
        response = client.get(page_of(listing) + path) if "purchase" in path else client.post(page_of(listing) + path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_the_confirmation_shows_the_balance_after(client, make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    client.force_login(make_user("bob"))
    body = client.get(f"{page_of(listing)}purchase/", {"kind": "buy"}).content.decode()
    assert 'id="purchase-form"' in body and "<strong>990.00 FTNS</strong>" in body  # 1,000 in the wallet


def test_buying_through_the_page_moves_the_exact_amounts(client, make_user, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner, buy=10)
    Listing.objects.filter(pk=listing.pk).update(price_buy=1_000_001)  # rounding must still sum
    before = {u: ledger.wallet_balance(user=u) for u in (owner, buyer)}
    pool = system_account(Account.Kind.CATALOG_TEACHERS).balance
    platform = system_account(Account.Kind.PLATFORM_REVENUE).balance
    client.force_login(buyer)

    response = client.post(f"{page_of(listing)}purchase/", confirmation(client, listing), follow=True)

    assert response.status_code == 200 and "Bought “digits model” for 1.000001 FTNS" in response.content.decode()
    assert ledger.wallet_balance(user=buyer) == before[buyer] - 1_000_001
    assert ledger.wallet_balance(user=owner) == before[owner] + 700_001
    assert system_account(Account.Kind.CATALOG_TEACHERS).balance == pool + 200_000
    assert system_account(Account.Kind.PLATFORM_REVENUE).balance == platform + 100_000
    body = response.content.decode()
    assert 'id="downloads"' in body and f'/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx' in body


def test_a_double_submission_pays_once(client, make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    client.force_login(make_user("bob"))
    fields = confirmation(client, listing)

    first = client.post(f"{page_of(listing)}purchase/", fields)
    second = client.post(f"{page_of(listing)}purchase/", fields)

    assert first.status_code == second.status_code == 302
    assert Purchase.objects.count() == 1 and Transaction.objects.filter(kind=Transaction.Kind.SALE).count() == 1


def test_a_second_click_in_another_session_while_the_first_paid_still_pays_once(client, make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    bob = make_user("bob")
    client.force_login(bob)
    fields = confirmation(client, listing)
    assert client.post(f"{page_of(listing)}purchase/", fields).status_code == 302
    client.session.flush()  # the session's record of the key is gone: the service's own check holds
    client.force_login(bob)

    assert client.post(f"{page_of(listing)}purchase/", fields).status_code == 302
    assert Purchase.objects.count() == 1 and Transaction.objects.filter(kind=Transaction.Kind.SALE).count() == 1


def test_a_changed_price_is_refused_beside_the_confirmation(client, make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    client.force_login(make_user("bob"))
    fields = confirmation(client, listing)
    Listing.objects.filter(pk=listing.pk).update(price_buy=12_000_000)

    response = client.post(f"{page_of(listing)}purchase/", fields)

    assert response.status_code == 409 and 'id="purchase-errors"' in response.content.decode()
    assert "now 12.000000 FTNS" in response.content.decode() and not Purchase.objects.exists()


def test_renting_through_the_page(client, make_user, listed):
    listing = listed(make_user("ada"), buy=None, rent=2)
    client.force_login(make_user("bob"))
    fields = confirmation(client, listing, kind="rent")
    assert fields["rent_period_days"] == "30"
    body = client.post(f"{page_of(listing)}purchase/", fields, follow=True).content.decode()
    assert Purchase.objects.get().kind == "rent" and "You rent this model until" in body


def test_a_non_buyer_cannot_rate_and_is_told_beside_the_form(client, make_user, listed):
    listing = listed(make_user("ada"))
    client.force_login(make_user("eve"))
    assert 'id="rate-form"' not in client.get(page_of(listing)).content.decode()

    response = client.post(f"{page_of(listing)}rate/", {"stars": "5", "review": "great"})

    assert response.status_code == 403 and "Only buyers can rate a model." in response.content.decode()
    assert not Rating.objects.exists()


def test_a_buyer_rates_and_the_review_is_shown(client, make_user, listed):
    listing = listed(make_user("ada"))
    client.force_login(make_user("bob"))
    client.post(f"{page_of(listing)}purchase/", confirmation(client, listing))

    body = client.post(f"{page_of(listing)}rate/", {"stars": "4", "review": "Quick and right."}, follow=True).content.decode()

    assert "★ 4.0 of 5, from 1 rating." in body and "Quick and right." in body
    again = client.post(f"{page_of(listing)}rate/", {"stars": "5"}, follow=True).content.decode()
    assert "Your rating is updated." in again and "★ 5.0 of 5, from 1 rating." in again  # still one rating, changed


def test_a_report_reaches_the_moderators_and_a_second_is_refused_beside_the_form(client, make_user, listed):
    listing = listed(make_user("ada"))
    client.force_login(make_user("eve"))
    assert client.post(f"{page_of(listing)}report/", {"reason": "copied"}).status_code == 302
    again = client.post(f"{page_of(listing)}report/", {"reason": "still copied"})
    assert again.status_code == 409 and "already reported" in again.content.decode()
    assert ListingReport.objects.count() == 1
