"""The admin arranged for moderators: the review queue, decisions with a reason, suspensions, the log."""

import pytest
from django.db import connection

from safety.models import ModerationAction, SafetyReport

from .conftest import check


@pytest.fixture
def tripped(make_user, completed_job):
    return completed_job(make_user("ada"), {"robustness": check(False, detail="brittle under noise")}).safety_report


def test_the_review_queue_lists_tripped_jobs_only(client, make_user, completed_job, tripped):
    completed_job(make_user("bob"), {"robustness": check(True)})
    client.force_login(make_user("mo", moderator=True))
    page = client.get("/admin/safety/reviewqueueitem/")
    assert page.status_code == 200
    assert str(tripped.job.job_id) in page.content.decode() and "1 tripped job awaiting review" in page.content.decode()


def test_approve_asks_for_a_reason_then_records_it(client, make_user, tripped):
    moderator = make_user("mo", moderator=True)
    client.force_login(moderator)
    url = "/admin/safety/reviewqueueitem/"
    form = client.post(url, {"action": "approve_selected", "_selected_action": [tripped.pk]})
    assert form.status_code == 200 and "reason" in form.content.decode()
    done = client.post(url, {"action": "approve_selected", "_selected_action": [tripped.pk], "apply": "1",
                             "reason": "a person checked the noisy cases"})
    assert done.status_code == 302
    tripped.refresh_from_db()
    assert tripped.breaker_state == "approved" and tripped.decided_by == moderator
    assert ModerationAction.objects.get().reason == "a person checked the noisy cases"


def test_suspending_the_owner_deactivates_them_and_is_logged(client, make_user, tripped):
    client.force_login(make_user("mo", moderator=True))
    client.post("/admin/safety/safetyreport/", {"action": "suspend_owners", "_selected_action": [tripped.pk],
                                                "apply": "1", "reason": "repeated abuse"})
    owner = tripped.job.owner
    owner.refresh_from_db()
    assert not owner.is_active
    assert ModerationAction.objects.get().action == "suspend_user"


def test_non_staff_and_staff_who_are_not_moderators_are_refused(client, make_user, tripped):
    client.force_login(make_user("eve"))
    assert client.get("/admin/safety/reviewqueueitem/").status_code == 302  # to the admin login
    client.force_login(make_user("sam", staff=True))
    assert client.get("/admin/safety/reviewqueueitem/").status_code == 403
    assert client.get("/admin/safety/moderationaction/").status_code == 403


def test_the_moderation_log_cannot_be_changed_or_deleted(make_user, tripped):
    from safety import services

    moderator = make_user("mo", moderator=True)
    services.safety_report_decide(report=tripped, moderator=moderator, approve=False, reason="unsafe")
    entry = ModerationAction.objects.get()
    entry.reason = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        ModerationAction.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(PermissionError):
        ModerationAction.objects.all().delete()
    assert ModerationAction.objects.get().reason == "unsafe"
    assert SafetyReport.objects.get().breaker_state == "rejected"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger is PostgreSQL's")
def test_on_postgresql_even_raw_sql_cannot_rewrite_the_log(make_user, tripped):
    from django.db import DatabaseError, transaction

    from safety import services

    services.safety_report_decide(report=tripped, moderator=make_user("mo", moderator=True), approve=True, reason="ok")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE safety_moderationaction SET reason = 'rewritten'")


def test_a_refused_action_is_shown_beside_the_item_and_the_others_still_run(client, make_user, completed_job, tripped):
    passed = completed_job(make_user("bob"), {"robustness": check(True)}).safety_report
    client.force_login(make_user("mo", moderator=True))
    page = client.post("/admin/safety/safetyreport/", {"action": "approve_selected", "apply": "1", "reason": "fine",
                                                       "_selected_action": [tripped.pk, passed.pk]}, follow=True)
    assert page.status_code == 200
    shown = [(message.level_tag, str(message)) for message in page.context["messages"]]
    assert shown == [("error", f"{passed}: The job passed its checks; there is nothing to decide."),
                     ("success", "Approve for deploy: 1 done.")]
    tripped.refresh_from_db()
    assert tripped.breaker_state == "approved" and ModerationAction.objects.count() == 1
