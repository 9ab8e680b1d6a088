"""Flagged uploads in the moderation console: queued for moderators, decided with a reason, audited."""

import pytest

from safety import services
from safety.models import FlaggedUpload, ModerationAction


@pytest.fixture
def flagged(make_user):
    return services.flagged_upload_record(
        user=make_user("mallory"), kind="teacher", filename="model.pth", sha256="ab" * 32,
        reason="the file: refused: the pickle imports posix.system, which is not a tensor type", imports=["posix.system"])


def test_the_review_queue_lists_pending_flagged_uploads_for_a_moderator(client, make_user, flagged):
    services.flagged_upload_record(user=flagged.user, kind="dataset", filename="decided.pkl", sha256="cd" * 32,
                                   reason="refused", imports=["builtins.exec"])
    FlaggedUpload.objects.filter(filename="decided.pkl").update(status=FlaggedUpload.Status.REJECTED)
    client.force_login(make_user("mo", moderator=True))

    page = client.get("/admin/safety/flaggeduploadqueueitem/").content.decode()

    assert "model.pth" in page and "posix.system" in page and "mallory" in page
    assert "decided.pkl" not in page and "1 flagged upload awaiting review" in page
    assert "review queue: flagged uploads" in client.get("/admin/safety/").content.decode().lower()


def test_rejecting_a_flagged_upload_asks_for_a_reason_and_writes_the_audit_log(client, make_user, flagged):
    moderator = make_user("mo", moderator=True)
    client.force_login(moderator)
    url = "/admin/safety/flaggeduploadqueueitem/"

    form = client.post(url, {"action": "reject_selected", "_selected_action": [flagged.pk]})
    done = client.post(url, {"action": "reject_selected", "_selected_action": [flagged.pk], "apply": "1",
                             "reason": "a reverse shell in a checkpoint"})

    assert form.status_code == 200 and "reason" in form.content.decode()
    assert done.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.status, flagged.decided_by, flagged.decision_reason) == ("rejected", moderator,
                                                                            "a reverse shell in a checkpoint")
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.upload, entry.target_user) == ("reject", flagged, flagged.user)
    assert "1 flagged upload awaiting review" not in client.get(url).content.decode()


def test_non_staff_and_staff_who_are_not_moderators_are_refused(client, make_user, flagged):
    client.force_login(make_user("eve"))
    assert client.get("/admin/safety/flaggeduploadqueueitem/").status_code == 302  # to the admin login
    client.force_login(make_user("sam", staff=True))
    assert client.get("/admin/safety/flaggeduploadqueueitem/").status_code == 403
    assert client.get("/admin/safety/flaggedupload/").status_code == 403
    with pytest.raises(services.NotModerator):
        services.flagged_upload_decide(flagged=flagged, moderator=make_user("sue", staff=True), approve=True,
                                       reason="looks fine")
    assert FlaggedUpload.objects.get().status == "pending" and not ModerationAction.objects.exists()
