import pytest

from ledger.selectors import ledger_problems


@pytest.fixture(autouse=True)
def ledger_books_balance(request):
    """After every test that touched the database: every transaction sums to zero, every cached
    balance equals its entries, nothing but issuance is negative, the holds account holds exactly
    the open holds."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up first, so torn down (rolled back) after this check
    yield
    assert ledger_problems() == []


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
