"""The recommended price: the documented rule (marketplace/price_advice.py), in exact integer units."""

from ledger.amounts import UNITS_PER_FTNS
from ledger.selectors import holds_by_reference
from marketplace import services
from marketplace.price_advice import median, price_advice

FTNS = UNITS_PER_FTNS


def test_with_few_comparable_listings_it_starts_from_three_times_the_cost():
    # 3 x 2 FTNS = 6 FTNS; retention 90%; 8x compression adds 40%: 6 x 0.9 x 1.4 = 7.56 FTNS
    advice = price_advice(cost=2 * FTNS, retention=0.9, compression=8.0, comparable_prices=[50 * FTNS, 70 * FTNS])
    assert (advice.buy, advice.rent, advice.anchor, advice.comparable) == (7_560_000, 1_510_000, 6 * FTNS, 2)


def test_with_three_or_more_it_starts_from_their_median():
    # median of 10, 20, 40 FTNS = 20; retention 100%; compression 30x counts as 10x: +50% -> 30 FTNS
    advice = price_advice(cost=FTNS, retention=1.0, compression=30.0, comparable_prices=[40 * FTNS, 10 * FTNS, 20 * FTNS])
    assert (advice.buy, advice.rent, advice.anchor) == (30 * FTNS, 6 * FTNS, 20 * FTNS)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two_rounded_down():
    assert median([1, 2, 4, 9]) == 3 and median([1, 2]) == 1 and median([5]) == 5


def test_retention_is_held_to_half_and_the_price_never_falls_under_the_cost():
    # anchor 3 x 1.234567 FTNS; retention 20% counts as 50%; no compression: 1.8518505 -> 1.85 FTNS
    advice = price_advice(cost=1_234_567, retention=0.2, compression=None, comparable_prices=[])
    assert advice.buy == 1_850_000
    # the median 1 FTNS x 0.5 = 0.5 FTNS is under the 3.333333 FTNS cost: the cost, rounded up to 0.01
    low = price_advice(cost=3_333_333, retention=0.2, compression=1, comparable_prices=[FTNS] * 3)
    assert low.buy == 3_340_000 and low.rent == 670_000


def test_rounding_is_half_up_to_a_hundredth_of_an_ftns():
    # 3 x 5,000 units x 1.0 x 1.0 = 15,000 units = 0.015 FTNS -> 0.02; rent 0.004 -> at least 0.01
    advice = price_advice(cost=5_000, retention=1.0, compression=0, comparable_prices=[])
    assert (advice.buy, advice.rent) == (20_000, 10_000)


def test_listing_stores_the_advice_from_the_settled_cost(make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    hold = holds_by_reference(references=[f"job:{listing.job.job_id}"])[f"job:{listing.job.job_id}"]
    assert hold.state == "settled" and services._job_cost(listing.job) == hold.charged > 0
    assert listing.recommended_price == price_advice(cost=hold.charged, retention=0.9, compression=8.0,
                                                     comparable_prices=[]).buy


def test_the_advice_counts_the_active_buy_prices_of_its_category(make_user, listed, completed_job):
    bob = make_user("bob")
    for buy in (10, 4, 8, 30):
        listed(bob, buy=buy)
    listed(bob, buy=None, rent=1)  # not for sale: no buy price to count
    withdrawn = listed(bob, buy=1000)
    services.listing_update(listing=withdrawn, user=bob, status="withdrawn")
    job = completed_job(make_user("cy"), retention=0.95)
    advice = services.listing_price_advice(job=job, category="image/digits")
    # the median of 4, 8, 10, 30 FTNS is 9
    assert (advice.comparable, advice.anchor) == (4, 9 * FTNS)
    assert advice == price_advice(cost=services._job_cost(job), retention=0.95, compression=8.0,
                                  comparable_prices=[10 * FTNS, 4 * FTNS, 8 * FTNS, 30 * FTNS])
    assert services.listing_price_advice(job=job, category="text/sentiment").comparable == 0


def test_the_advice_reads_the_category_the_seller_picks_when_listing_and_later(make_user, listed, completed_job):
    from distillation.services import job_deploy

    bob = make_user("bob")
    for n in range(3):
        listed(bob, buy=500, domain=f"digits-{n}")  # three comparable image/digits listings at 500 FTNS
    cy = make_user("cy")
    job = completed_job(cy, retention=0.95)
    picked = services.listing_create(owner=cy, deployment=job_deploy(job=job), price_buy=FTNS, category="tabular/other")

    assert picked.category == "tabular/other"
    assert picked.recommended_price == services.listing_price_advice(job=job, category="tabular/other").buy
    assert picked.recommended_price != services.listing_price_advice(job=job, category="image/digits").buy

    services.listing_update(listing=picked, user=cy, category="image/digits")
    picked.refresh_from_db()
    assert picked.recommended_price == services.listing_price_advice(job=job, category="image/digits").buy
