import pytest

from marketplace import services as marketplace
from marketplace.tests.conftest import completed_job, listed, make_unfunded_user, make_user, report_of  # noqa: F401
from safety import services as safety
from safety.models import SafetyReport
from safety.tests.conftest import api_for, catalog_home, check  # noqa: F401 - shared fixtures

__all__ = ["check", "report_of"]


@pytest.fixture
def moderator(make_user):
    return make_user("mo", moderator=True)


@pytest.fixture
def tripped(completed_job):
    """A completed job whose toxicity check failed: its breaker trips and it waits in the queue."""

    def make(owner) -> SafetyReport:
        job = completed_job(owner, checks={"toxicity": check(False, detail="3 of 40 toxic outputs"),
                                           "calibration": check(True)})
        report = SafetyReport.objects.get(job=job)
        assert report.breaker_state == SafetyReport.Breaker.TRIPPED
        return report

    return make


@pytest.fixture
def flagged(db):
    def make(user, filename="weights.pkl"):
        return safety.flagged_upload_record(user=user, kind="teacher", filename=filename, sha256="ab" * 32,
                                            reason="forbidden import os.system", imports=["os.system"])

    return make


@pytest.fixture
def reported(listed, make_user):
    """A listing reported by two people."""

    def make(owner, title="Suspicious digits"):
        listing = listed(owner, title=title)
        for name in ("eve", "fay"):
            marketplace.listing_report_create(listing=listing, reporter=make_user(name), reason=f"{name}: a copied model")
        return listing

    return make
