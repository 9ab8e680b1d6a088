import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.selectors import user_is_moderator
from accounts.services import moderator_add

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_bootstrap_creates_the_moderators_group_and_the_demo_user_once(settings):
    settings.DEBUG = True  # the published demo password is for development only
    call_command("bootstrap")
    call_command("bootstrap")

    assert Group.objects.filter(name="moderators").count() == 1
    demo = get_user_model().objects.get(username="demo")
    assert demo.check_password("distill-demo-2026")
    assert not demo.is_staff


def test_bootstrap_takes_the_demo_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRSM_DEMO_PASSWORD", "another long passphrase")

    call_command("bootstrap")

    assert get_user_model().objects.get(username="demo").check_password("another long passphrase")


def test_outside_development_it_refuses_the_published_demo_password(monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.delenv("PRSM_DEMO_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="PRSM_DEMO_PASSWORD"):
        call_command("bootstrap")
    assert not get_user_model().objects.filter(username="demo").exists()

    call_command("bootstrap", "--no-demo")
    assert Group.objects.filter(name="moderators").exists()


def test_a_moderator_is_staff_in_the_moderators_group():
    user = UserFactory()
    assert not user_is_moderator(user=user)

    moderator_add(user=user)

    assert user_is_moderator(user=user)
    assert Group.objects.get(name="moderators").permissions.filter(codename="change_user").exists()
