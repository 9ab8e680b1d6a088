"""notification_send: kept for the account page, and pushed to the user's group once committed."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts import services
from accounts.consumers import user_group
from accounts.models import Notification

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_notification_is_kept_and_sent_to_the_users_group_after_the_commit(django_capture_on_commit_callbacks):
    user = UserFactory()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.id), channel)

    with django_capture_on_commit_callbacks() as callbacks:
        notification = services.notification_send(user=user, kind="job_completed", message="Job done", link="/jobs/")
    assert len(callbacks) == 1  # nothing is sent before the commit
    callbacks[0]()

    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "user.notify"
    assert message["payload"] == {"type": "notification", "id": notification.pk, "kind": "job_completed",
                                  "message": "Job done", "link": "/jobs/",
                                  "created_at": notification.created_at.isoformat()}
    assert Notification.objects.get().message == "Job done"
    async_to_sync(layer.group_discard)(user_group(user.id), channel)


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil"])
def test_a_notification_links_only_to_this_site(link):
    with pytest.raises(ValueError):
        services.notification_send(user=UserFactory(), kind="job_completed", message="Job done", link=link)
