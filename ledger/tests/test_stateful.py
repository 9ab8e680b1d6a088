"""A hypothesis state machine drives the ledger through every kind of money movement, retries
included, and checks the books and each wallet against a simple model after every step."""

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from ledger import pricing, selectors, services
from ledger.amounts import format_ftns
from ledger.errors import HoldConflict, InsufficientFunds
from ledger.models import Account, Hold

from .factories import StaffFactory, UserFactory

PEOPLE = 3
person = st.integers(min_value=0, max_value=PEOPLE - 1)
amount = st.one_of(st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=pricing.BASE_FEE * 3))
references = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()  # each run starts from the same empty books
        self._atomic.__enter__()
        self.people = [UserFactory() for _ in range(PEOPLE)]
        self.staff = StaffFactory()
        self.expected = [0] * PEOPLE
        self.platform = 0
        self.catalog_teachers = 0
        self.open_holds: dict[str, tuple[int, int]] = {}  # reference -> (person, amount)
        self.closed_holds: dict[str, str] = {}  # reference -> the operation that closed it
        self.keys: dict[tuple[int, str], tuple[dict, int, dict]] = {}  # (person, key) -> body, status, response

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- money in

    @rule(who=person, units=amount)
    def deposit(self, who, units):
        services.ledger_deposit_post(user=self.people[who], amount=units, external_reference=f"dep-{next(references)}")
        self.expected[who] += units

    @rule(who=person, units=amount)
    def grant(self, who, units):
        services.ledger_grant_post(staff=self.staff, user=self.people[who], amount=units, reason="stateful test")
        self.expected[who] += units

    # --- transfers and sales

    @rule(sender=person, recipient=person, units=amount)
    def transfer(self, sender, recipient, units):
        if sender == recipient:
            return
        if self.expected[sender] < units:
            with pytest.raises(InsufficientFunds):
                services.ledger_transfer_post(sender=self.people[sender], recipient=self.people[recipient], amount=units)
            return
        services.ledger_transfer_post(sender=self.people[sender], recipient=self.people[recipient], amount=units)
        self.expected[sender] -= units
        self.expected[recipient] += units

    @rule(buyer=person, creator=person, price=amount,
          teachers=st.lists(st.tuples(st.one_of(st.none(), person), st.integers(0, 5)), max_size=3),
          share=st.one_of(st.none(), st.fractions(0, pricing.CREATOR_SHARE + pricing.TEACHER_SHARE)))
    def sale(self, buyer, creator, price, teachers, share):
        if teachers and not any(w for _, w in teachers):
            teachers = [(owner, 1) for owner, _ in teachers]
        owners = [(None if o is None else self.people[o], w) for o, w in teachers]
        post = lambda: services.ledger_sale_post(  # noqa: E731
            buyer=self.people[buyer], creator=self.people[creator], price=price, teachers=owners, teacher_share=share)
        if buyer == creator:
            with pytest.raises(ValidationError):
                post()
            return
        split = pricing.revenue_split(price=price, teacher_weights=[w for _, w in teachers], teacher_share=share)
        # a buyer who owns one of the teachers is paid their part in the same transaction: legs on one
        # account are netted, so they need only the price less that part
        own_part = sum(part for (owner, _), part in zip(teachers, split.teachers) if owner == buyer)
        if self.expected[buyer] < price - own_part:
            with pytest.raises(InsufficientFunds):
                post()
            return
        post()
        self.expected[buyer] -= price
        self.expected[creator] += split.creator
        self.platform += split.platform
        for (owner, _), part in zip(teachers, split.teachers):
            self._pay(owner, part)

    def _pay(self, owner, units):
        if owner is None:
            self.catalog_teachers += units
        else:
            self.expected[owner] += units

    # --- job holds

    @rule(who=person, units=amount, headroom=st.integers(0, 100))
    def hold_place(self, who, units, headroom):
        reference = f"job-{next(references)}"
        if self.expected[who] < units:
            with pytest.raises(InsufficientFunds):
                services.hold_place(user=self.people[who], reference=reference, amount=units, budget=units + headroom)
            return
        services.hold_place(user=self.people[who], reference=reference, amount=units, budget=units + headroom)
        self.expected[who] -= units
        self.open_holds[reference] = (who, units)

    @precondition(lambda self: self.open_holds)
    @rule(data=st.data(), owners=st.lists(st.one_of(st.none(), person), max_size=2),
          hours=st.fractions(0, 6, max_denominator=3600), suites=st.integers(0, 2))
    def hold_settle(self, data, owners, hours, suites):
        reference = data.draw(st.sampled_from(sorted(self.open_holds)))
        who, held = self.open_holds.pop(reference)
        cost = pricing.job_cost(teachers=len(owners), compute_hours=hours, validation_suites=suites)
        services.hold_settle(reference=reference, cost=cost,
                             teacher_owners=[None if o is None else self.people[o] for o in owners])
        charge = min(cost.total, held)
        teacher_total = min(sum(cost.teacher_fees), charge)
        for owner, part in zip(owners, pricing.apportion(teacher_total, cost.teacher_fees) if owners else []):
            self._pay(owner, part)
        self.platform += charge - teacher_total
        self.expected[who] += held - charge
        self.closed_holds[reference] = "hold_settle"

    @precondition(lambda self: self.open_holds)
    @rule(data=st.data(), operation=st.sampled_from(["hold_release", "hold_refund"]))
    def hold_return(self, data, operation):
        reference = data.draw(st.sampled_from(sorted(self.open_holds)))
        who, held = self.open_holds.pop(reference)
        getattr(services, operation)(reference=reference)
        self.expected[who] += held
        self.closed_holds[reference] = operation

    @precondition(lambda self: self.closed_holds)
    @rule(data=st.data(), operation=st.sampled_from(["hold_settle", "hold_release", "hold_refund"]))
    def hold_closed_again(self, data, operation):
        """A redelivered message repeats the operation (a no-op); a different one is refused."""
        reference = data.draw(st.sampled_from(sorted(self.closed_holds)))
        kwargs = {"cost": pricing.job_cost(teachers=0, compute_hours=1, validation_suites=0), "teacher_owners": []}
        call = lambda: getattr(services, operation)(reference=reference, **(kwargs if operation == "hold_settle" else {}))  # noqa: E731
        if operation == self.closed_holds[reference]:
            assert call().state != Hold.State.OPEN
        else:
            with pytest.raises(HoldConflict):
                call()

    # --- the API with idempotency keys, retried

    @rule(sender=person, recipient=person, units=amount, key=st.sampled_from(["a", "b", "c"]))
    def transfer_through_the_api(self, sender, recipient, units, key):
        if sender == recipient:
            return
        body = {"to": self.people[recipient].username, "amount": format_ftns(units)}
        client = APIClient()
        client.force_authenticate(self.people[sender])
        response = client.post("/api/v1/ledger/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        first = self.keys.get((sender, key))
        if first is None:
            expected_status = 201 if self.expected[sender] >= units else 409
            assert response.status_code == expected_status, response.json()
            self.keys[(sender, key)] = (body, response.status_code, response.json())
            if expected_status == 201:
                self.expected[sender] -= units
                self.expected[recipient] += units
        elif first[0] == body:
            assert (response.status_code, response.json()) == first[1:]
        else:
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "idempotency_key_reused"

    # --- after every step

    @invariant()
    def the_books_balance(self):
        assert selectors.ledger_problems() == []

    @invariant()
    def every_wallet_holds_what_the_model_says(self):
        assert [selectors.wallet_balance(user=p) for p in self.people] == self.expected
        assert services.system_account(Account.Kind.PLATFORM_REVENUE).balance == self.platform
        assert services.system_account(Account.Kind.CATALOG_TEACHERS).balance == self.catalog_teachers
        assert services.system_account(Account.Kind.HOLDS).balance == sum(a for _, a in self.open_holds.values())


@pytest.mark.django_db
def test_the_ledger_stays_exact_through_any_sequence_of_operations_and_retries():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=30, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
