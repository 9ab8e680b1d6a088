"""The user's own uploads: another user's teacher or data set is never found."""

from __future__ import annotations

import uuid

from ..models import Dataset, Teacher


def teachers_of(*, user):
    return Teacher.objects.filter(owner=user).select_related("dataset").order_by("-created_at")


def datasets_of(*, user):
    return Dataset.objects.filter(owner=user).order_by("-created_at")


def teacher_of(*, user, public_id):
    """The user's own teacher with that id, or None (another user's upload is never found)."""
    return _own(teachers_of, user, public_id)


def dataset_of(*, user, public_id):
    return _own(datasets_of, user, public_id)


def _own(rows, user, public_id):
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return rows(user=user).filter(public_id=public_id).first()
