"""The audit log page: filters by moderator, action, day and subject; the CSV export carries the same
rows with a header, as an attachment, with formula-like cells defused."""

import csv
import io
from datetime import timedelta

from django.utils import timezone

from marketplace.services import listing_suspend
from safety import services as safety


def logged(make_user, tripped, listed, moderator):
    """Three entries by two moderators: a job approved, a listing suspended, an account suspended."""
    other = make_user("max", moderator=True)
    ada, bob = make_user("ada"), make_user("bob")
    report = tripped(ada)
    listing = listed(ada, title="=HYPERLINK(evil)")
    safety.safety_report_decide(report=report, moderator=moderator, approve=True, reason="harmless")
    listing_suspend(listing=listing, moderator=other, reason="copied")
    safety.user_suspend(user=bob, moderator=moderator, reason="spam")
    return report, listing, bob


def actions(client, **filters):
    return [entry.action for entry in client.get("/moderation/audit/", filters).context["page"]]


def test_the_audit_log_filters_by_moderator_action_day_and_subject(client, moderator, make_user, tripped, listed):
    report, listing, bob = logged(make_user, tripped, listed, moderator)
    client.force_login(moderator)
    today = timezone.now().date()

    assert actions(client) == ["suspend_user", "suspend_listing", "approve"]
    assert actions(client, moderator="max") == ["suspend_listing"]
    assert actions(client, moderator="MO") == ["suspend_user", "approve"]
    assert actions(client, action="approve") == ["approve"]
    assert actions(client, since=today.isoformat(), until=today.isoformat()) == ["suspend_user", "suspend_listing", "approve"]
    assert actions(client, until=(today - timedelta(days=1)).isoformat()) == []
    assert actions(client, since=(today + timedelta(days=1)).isoformat()) == []
    assert actions(client, subject=str(report.job.job_id)) == ["approve"]
    assert actions(client, subject=str(listing.listing_id)) == ["suspend_listing"]
    assert actions(client, subject="hyperlink") == ["suspend_listing"]
    assert actions(client, subject="bob") == ["suspend_user"]
    assert actions(client, moderator="mo", action="suspend_listing") == []
    assert actions(client, since="not a date") == ["suspend_user", "suspend_listing", "approve"]


def test_the_csv_export_has_a_header_the_filtered_rows_and_defused_formulas(client, moderator, make_user, tripped, listed):
    report, listing, bob = logged(make_user, tripped, listed, moderator)
    client.force_login(moderator)

    response = client.get("/moderation/audit.csv", {"moderator": "mo"})

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="moderation-audit-')
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0] == ["time (UTC)", "moderator", "action", "subject kind", "subject", "affected user", "reason"]
    assert [row[1:] for row in table[1:]] == [
        ["mo", "suspend_user", "user", "bob", "bob", "spam"],
        ["mo", "approve", "job", str(report.job.job_id), "ada", "harmless"]]

    everything = list(csv.reader(io.StringIO(b"".join(client.get("/moderation/audit.csv").streaming_content).decode())))
    [suspended] = [row for row in everything if row[2] == "suspend_listing"]
    assert suspended[4] == f"'=HYPERLINK(evil) ({listing.listing_id})"


def test_the_audit_page_links_its_filters_to_the_export(client, moderator, make_user, tripped, listed):
    logged(make_user, tripped, listed, moderator)
    client.force_login(moderator)

    page = client.get("/moderation/audit/", {"action": "approve"}).content.decode()

    assert 'href="/moderation/audit.csv?action=approve"' in page
    assert "1 entry." in page
