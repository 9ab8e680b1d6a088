"""Bonuses (marketplace/bonuses.py, docs/BONUSES.md): who qualifies for a period, exact integer amounts
from the platform's revenue, once per listing, kind and period however often the period is paid, and
each payment on its owner's statement with its reason."""

import pytest
from django.db.models import Sum
from django.test import Client

from accounts.models import Notification
from core import clock
from ledger import services as ledger
from ledger.models import Account, Entry, Transaction
from ledger.selectors import account_balance, ledger_problems
from ledger.services import system_account
from marketplace import bonuses, services
from marketplace.bonuses import bonuses_pay, period_before, period_bounds
from marketplace.models import Bonus, Listing
from marketplace.selectors import listing_reference

pytestmark = pytest.mark.django_db

FTNS = 1_000_000


def into_next_month() -> str:
    """Move the test clock into the next calendar month; returns the month the sales fell in."""
    now = clock.now()
    sold_in = f"{now:%Y-%m}"
    clock.clock_advance(seconds=(period_bounds(sold_in)[1] - now).total_seconds() + 3600)
    assert period_before(clock.now()) == sold_in
    return sold_in


@pytest.fixture(autouse=True)
def _clock_back():
    yield
    clock.clock_reset()


@pytest.fixture
def sell(make_user):
    """Buy a listing once per star given, each buyer rating it with their star."""
    made = []

    def sell(listing, stars=(5, 4, 4), rate=True):
        for star in stars:
            buyer = make_user(f"buyer{len(made)}")
            made.append(buyer)
            services.listing_purchase(listing=listing, buyer=buyer, kind="buy", expected_price=listing.price_buy)
            if rate:
                services.listing_rate(listing=listing, rater=buyer, stars=star)

    return sell


def catalogue(listing, *, category="tabular/digits", retention=0.95, compression=8.0) -> Listing:
    Listing.objects.filter(pk=listing.pk).update(category=category, retention=retention, compression=compression)
    listing.refresh_from_db()
    return listing


def wallet_of(user) -> Account:
    return Account.objects.get(kind=Account.Kind.WALLET, user=user)


def test_a_period_paid_twice_pays_once(make_user, listed, sell):
    owner = make_user("olga")
    listing = catalogue(listed(owner, buy=10))
    sell(listing)  # 3 sales at 10 FTNS: the creator's 70% is 21 FTNS
    period = into_next_month()
    before = wallet_of(owner).balance

    first = bonuses_pay(period=period)
    second = bonuses_pay(period=period)

    assert sorted((b.kind, b.amount) for b in first.paid) == [("efficiency", 10 * FTNS), ("performance", 1_050_000)]
    assert second.paid == [] and second.refused == ""
    assert Bonus.objects.filter(period=period).count() == 2
    assert Transaction.objects.filter(kind=Transaction.Kind.BONUS).count() == 2
    assert wallet_of(owner).balance - before == 11_050_000


def test_a_run_that_read_before_another_committed_pays_nothing_again(make_user, listed, sell, monkeypatch):
    """Two runs at once: the second found nothing recorded yet, and reaches the ledger after the first
    committed. The ledger's dedupe keys return the first run's transactions and nothing is recorded twice."""
    owner = make_user("olga")
    sell(catalogue(listed(owner, buy=10)))
    period = into_next_month()
    bonuses_pay(period=period)
    balance = wallet_of(owner).balance
    monkeypatch.setattr(bonuses, "_recorded", lambda due: False)

    late = bonuses_pay(period=period)

    assert late.paid == [] and Bonus.objects.count() == 2
    assert Transaction.objects.filter(kind=Transaction.Kind.BONUS).count() == 2
    assert wallet_of(owner).balance == balance
    assert Notification.objects.filter(user=owner, kind="bonus_paid").count() == 2


def test_amounts_are_exact_integers_rounded_down(make_user, listed, sell):
    owner = make_user("olga")
    listing = services.listing_update(listing=listed(owner, buy=10), user=owner, price_buy=10_000_001)
    sell(listing)  # the creator gets 7,000,001 units a sale: 21,000,003 in all
    period = into_next_month()

    bonus = next(b for b in bonuses_pay(period=period).paid if b.kind == Bonus.Kind.PERFORMANCE)

    earned = Entry.objects.filter(account=wallet_of(owner), transaction__kind=Transaction.Kind.SALE).aggregate(
        total=Sum("amount"))["total"]
    assert earned == 21_000_003
    assert bonus.amount == 1_050_000 == earned * 5 // 100  # 1,050,000.15 rounded down
    entries = {entry.account.code: entry.amount for entry in bonus.transaction.entries.select_related("account")}
    assert entries == {"platform:revenue": -1_050_000, f"wallet:{owner.pk}": 1_050_000}
    assert all(type(amount) is int for amount in entries.values())


def test_the_performance_bonus_is_capped(make_user, listed, sell, monkeypatch):
    monkeypatch.setattr(bonuses, "PERFORMANCE_CAP", 1 * FTNS)
    owner = make_user("olga")
    sell(listed(owner, buy=10))

    bonus = Bonus.objects.get(kind="performance", pk__in=[b.pk for b in bonuses_pay(period=into_next_month()).paid])

    assert bonus.amount == 1 * FTNS and "(capped)" in bonus.reason


@pytest.mark.parametrize("stars, paid", [((5, 4, 3), True), ((5, 4, 2), False), ((5, 5), False)])
def test_the_performance_bonus_needs_three_sales_and_an_average_of_four_stars(make_user, listed, sell, stars, paid):
    owner = make_user("olga")
    listing = listed(owner, buy=10)
    sell(listing, stars=stars)

    run = bonuses_pay(period=into_next_month())

    assert [b.listing_id for b in run.paid if b.kind == "performance"] == ([listing.pk] if paid else [])


def test_ratings_count_but_unrated_sales_do_not_make_a_rating(make_user, listed, sell):
    owner = make_user("olga")
    listing = listed(owner, buy=10)
    sell(listing, stars=(5, 5, 5, 5), rate=False)

    assert not any(b.kind == "performance" for b in bonuses_pay(period=into_next_month()).paid)


def test_the_efficiency_bonus_goes_to_the_best_sold_listing_of_each_category(make_user, listed, sell):
    ada, bo, cy = make_user("ada"), make_user("bo"), make_user("cy")
    best = catalogue(listed(ada, title="small", buy=10), retention=0.92, compression=12.0)  # 11.04
    runner_up = catalogue(listed(bo, title="smaller", buy=10), retention=0.99, compression=10.0)  # 9.9
    unsold = catalogue(listed(cy, title="unsold", buy=10), retention=0.99, compression=50.0)
    too_lossy = catalogue(listed(cy, title="lossy", buy=10), retention=0.85, compression=40.0)
    other = catalogue(listed(bo, title="sentiment", buy=10), category="text/sentiment", retention=0.9, compression=2.0)
    for listing in (best, runner_up, too_lossy, other):
        sell(listing, stars=(3,))

    run = bonuses_pay(period=into_next_month())

    assert sorted(b.listing_id for b in run.paid if b.kind == "efficiency") == sorted([best.pk, other.pk])
    assert not any(b.listing_id in (runner_up.pk, unsold.pk, too_lossy.pk) for b in run.paid)
    reason = Bonus.objects.get(listing=best).reason
    assert "“small”" in reason and "tabular/digits" in reason and "92% retention at 12.0x compression" in reason


def test_a_reversed_sale_does_not_count(make_user, listed, sell):
    owner, staff = make_user("olga"), make_user("sid", staff=True)
    listing = listed(owner, buy=10)
    sell(listing)
    ledger.ledger_transaction_reverse(staff=staff, original=listing.purchases.first().transaction, reason="refund")

    assert not any(b.kind == "performance" for b in bonuses_pay(period=into_next_month()).paid)


def test_a_suspended_listing_is_not_paid(make_user, listed, sell):
    owner, moderator = make_user("olga"), make_user("mona", moderator=True)
    listing = catalogue(listed(owner, buy=10))
    sell(listing)
    services.listing_suspend(listing=listing, moderator=moderator, reason="copied weights")

    assert bonuses_pay(period=into_next_month()).paid == []


def test_sales_of_another_month_do_not_count(make_user, listed, sell):
    listing = catalogue(listed(make_user("olga"), buy=10))
    sell(listing)
    earlier = period_before(clock.now())  # the month before the sales: it has ended, and nothing sold in it

    assert bonuses_pay(period=earlier).paid == []
    assert not Bonus.objects.exists()


def test_a_period_that_has_not_ended_is_refused(make_user, listed, sell):
    sell(catalogue(listed(make_user("olga"), buy=10)))

    with pytest.raises(ValueError, match="has not ended"):
        bonuses_pay(period=f"{clock.now():%Y-%m}")
    with pytest.raises(ValueError, match="YYYY-MM"):
        bonuses_pay(period="2026-13")
    assert not Transaction.objects.filter(kind=Transaction.Kind.BONUS).exists()


def test_when_the_platform_is_short_none_is_paid_and_a_later_run_pays_all(make_user, listed, sell, monkeypatch):
    owner = make_user("olga")
    sell(catalogue(listed(owner, buy=10)))
    period = into_next_month()
    platform = system_account(Account.Kind.PLATFORM_REVENUE)
    monkeypatch.setattr(bonuses, "EFFICIENCY_AMOUNT", platform.balance)  # with the performance bonus: 1.05 FTNS short

    refused = bonuses_pay(period=period)

    assert refused.paid == [] and "less than the" in refused.refused and "none was paid" in refused.refused
    assert not Bonus.objects.exists() and not Transaction.objects.filter(kind=Transaction.Kind.BONUS).exists()
    platform.refresh_from_db()
    monkeypatch.setattr(bonuses, "EFFICIENCY_AMOUNT", platform.balance - 1_050_000)  # exactly what it holds

    paid = bonuses_pay(period=period)

    assert len(paid.paid) == 2 and paid.refused == ""
    platform.refresh_from_db()
    assert platform.balance == 0


def test_the_books_balance_after_bonuses(make_user, listed, sell):
    ada, bo = make_user("ada"), make_user("bo")
    for owner in (ada, bo):
        sell(catalogue(listed(owner, buy=10), category=f"tabular/{owner.username}"))
    period = into_next_month()
    bonuses_pay(period=period)
    bonuses_pay(period=period)

    assert Bonus.objects.count() == 4
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
    for account in Account.objects.all():
        assert account.balance == account_balance(account=account), account.code
    assert ledger_problems() == []


def test_the_statement_and_the_account_page_show_the_bonus_with_its_reason(make_user, listed, sell):
    owner = make_user("olga")
    listing = catalogue(listed(owner, title="digits <fast>", buy=10))
    sell(listing)
    period = into_next_month()
    bonuses_pay(period=period)
    performance = Bonus.objects.get(kind="performance")
    client = Client()
    client.force_login(owner)

    statement = client.get("/ledger/?kind=bonus").content.decode()
    account = client.get("/account/").content.decode()
    csv = b"".join(client.get("/ledger/statement.csv?kind=bonus").streaming_content).decode()

    reason = f"Performance bonus for {period}: “digits &lt;fast&gt;” sold 3 times, rated 4.3 from 3 ratings"
    assert f"Marketplace bonus: {reason}" in statement and listing_reference(listing) in statement
    assert reason in account
    assert performance.reason in csv and "1.050000" in csv and "Efficiency bonus for" in csv


def test_the_owner_is_told_of_each_bonus(make_user, listed, sell):
    owner = make_user("olga")
    sell(catalogue(listed(owner, buy=10)))
    period = into_next_month()
    bonuses_pay(period=period)
    bonuses_pay(period=period)

    told = Notification.objects.filter(user=owner, kind="bonus_paid")
    assert told.count() == 2
    assert {n.link for n in told} == {"/ledger/?kind=bonus"}
    assert any("1.05 FTNS bonus" in n.message and "Performance bonus" in n.message for n in told)


def test_a_rating_changed_after_the_period_ended_is_left_out(make_user, listed, sell):
    from marketplace.models import Rating

    listing = catalogue(listed(make_user("olga"), buy=10))
    sell(listing, stars=(4, 4, 4))
    period = into_next_month()
    raised = Rating.objects.filter(listing=listing).first()
    services.listing_rating_update(listing=listing, rater=raised.rater, stars=5)  # after the month: not counted

    paid = bonuses_pay(period=period).paid

    assert [b.kind for b in paid] == ["efficiency"]  # two ratings as they stood: under the three needed
