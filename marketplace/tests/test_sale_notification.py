"""A sale tells the seller: a notification kept for their account page and pushed to their open pages."""

from accounts.models import Notification

from .buying import purchase as buy


def test_the_seller_is_notified_of_a_sale_and_the_buyer_is_not(make_user, api_for, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner, buy=10, rent=2)

    assert buy(api_for(buyer), listing).status_code == 201

    sold = Notification.objects.get(user=owner, kind="model_sold")
    assert sold.kind == "model_sold" and "bob bought" in sold.message and "10.00 FTNS" in sold.message
    assert sold.link == f"/jobs/{listing.job.job_id}/"
    assert not Notification.objects.filter(user=buyer, kind="model_sold").exists()


def test_a_completed_job_notifies_its_owner(make_user, completed_job):
    owner = make_user("ada")
    job = completed_job(owner)

    done = Notification.objects.get(user=owner, kind="job_completed")
    assert "finished" in done.message and done.link == f"/jobs/{job.job_id}/"
