from decimal import Decimal

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.serializers import StrictInput

from . import selectors, services
from .amounts import AMOUNT_FORM, AMOUNT_TEXT, FTNS_DECIMALS, format_ftns, to_units
from .idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from .models import Transaction
from .users import user_by_username

User = get_user_model()

ERROR_SHAPE = 'The body is {"error": {"code", "message", "field"?}}.'
MONEY_POST_ERRORS = {
    400: OpenApiResponse(description=f"Invalid body or missing Idempotency-Key (field names it). {ERROR_SHAPE}"),
    409: OpenApiResponse(description="`insufficient_funds`, or `idempotency_key_reused`: the key was used with another "
                         f"body. {ERROR_SHAPE}"),
}


@extend_schema_field({"oneOf": [
    {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,6})?$", "example": "12.5"},
    {"type": "number", "minimum": 0, "exclusiveMinimum": True},
]})
class FtnsAmountField(serializers.DecimalField):
    """FTNS as an ASCII decimal string with at most six places (``AMOUNT_TEXT``) or a JSON number; the
    view receives integer units."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=18, decimal_places=FTNS_DECIMALS, min_value=0, **kwargs)

    def to_internal_value(self, data):
        number = isinstance(data, (int, float, Decimal)) and not isinstance(data, bool)
        if not (number or (isinstance(data, str) and AMOUNT_TEXT.fullmatch(data))):
            raise serializers.ValidationError(AMOUNT_FORM, code="invalid")
        units = to_units(super().to_internal_value(data))
        if units <= 0:
            raise serializers.ValidationError("Must be more than 0 FTNS.", code="min_value")
        return units


class LedgerBalanceOutputSerializer(serializers.Serializer):
    balance = serializers.CharField(help_text="FTNS to spend on jobs, six decimal places: the wallet and the "
                                    "promotional credit together.")
    balance_units = serializers.IntegerField(help_text="The same in units (1 FTNS = 1,000,000 units).")
    promo_credit = serializers.CharField(help_text="The part of balance that is promotional credit (the signup "
                                         "grant): it pays for distillation jobs only, never transfers or purchases.")
    promo_credit_units = serializers.IntegerField()
    transferable = serializers.CharField(help_text="The part of balance that transfers and purchases may spend.")
    transferable_units = serializers.IntegerField()
    held = serializers.CharField(help_text="FTNS in escrow for running jobs (not included in balance).")
    held_units = serializers.IntegerField()
    currency = serializers.CharField(default="FTNS")


class LedgerEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    transaction_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices, source="transaction.kind")
    account = serializers.ChoiceField(choices=["wallet", "promo"], source="account.kind",
                                      help_text="wallet, or promo: promotional credit, which pays for jobs only.")
    amount = serializers.SerializerMethodField(help_text="Signed FTNS: positive credits the wallet.")
    amount_units = serializers.IntegerField(source="amount")
    balance_after = serializers.SerializerMethodField(help_text="The balance of the entry's account (wallet or promo) once it applied.")
    balance_after_units = serializers.IntegerField(source="balance_after")
    counterparty = serializers.SerializerMethodField()
    memo = serializers.CharField(source="transaction.memo")
    reference = serializers.CharField(source="transaction.reference")
    created_at = serializers.DateTimeField(source="transaction.created_at")

    def get_amount(self, entry) -> str:
        return format_ftns(entry.amount)

    def get_balance_after(self, entry) -> str:
        return format_ftns(entry.balance_after)

    def get_counterparty(self, entry) -> str:
        return self.context.get("counterparties", {}).get(entry.pk, "")


class LedgerTransferOutputSerializer(serializers.Serializer):
    transaction_id = serializers.IntegerField()
    to = serializers.CharField()
    amount = serializers.CharField()
    amount_units = serializers.IntegerField()
    memo = serializers.CharField()
    balance = serializers.CharField(help_text="The sender's balance right after the transfer.")
    balance_units = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class LedgerGrantOutputSerializer(serializers.Serializer):
    transaction_id = serializers.IntegerField()
    to = serializers.CharField()
    amount = serializers.CharField()
    amount_units = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


def _recipient(username: str) -> User:
    user = user_by_username(username)  # NFKC, then without case: a lookalike name finds the same user
    if user is None:
        raise exceptions.ValidationError({"to": ["No active user with that username."]}, code="unknown_user")
    return user


class LedgerBalanceApi(APIView):
    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES  # signed in, and a token's scopes

    @extend_schema(operation_id="ledger_balance", responses={200: LedgerBalanceOutputSerializer})
    def get(self, request):
        balance, held = selectors.wallet_balance(user=request.user), selectors.wallet_held(user=request.user)
        promo = selectors.wallet_promo_credit(user=request.user)
        return Response(LedgerBalanceOutputSerializer({
            "balance": format_ftns(balance), "balance_units": balance,
            "promo_credit": format_ftns(promo), "promo_credit_units": promo,
            "transferable": format_ftns(balance - promo), "transferable_units": balance - promo,
            "held": format_ftns(held), "held_units": held, "currency": "FTNS",
        }).data)


class LedgerEntriesApi(ListAPIView):
    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES  # signed in, and a token's scopes
    serializer_class = LedgerEntryOutputSerializer
    pagination_class = LimitOffsetPagination

    class LedgerEntriesFilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Transaction.Kind.choices, required=False)
        reference = serializers.CharField(required=False, max_length=200)
        since = serializers.DateTimeField(required=False, help_text="Entries at or after this time.")
        until = serializers.DateTimeField(required=False, help_text="Entries before this time.")
        direction = serializers.ChoiceField(choices=["credit", "debit"], required=False)

    @extend_schema(operation_id="ledger_entries_list", parameters=[LedgerEntriesFilterSerializer])
    def get(self, request):
        filters = self.LedgerEntriesFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.wallet_entries(user=request.user, **filters.validated_data))
        context = {**self.get_serializer_context(), "counterparties": selectors.entry_counterparties(entries=page)}
        return self.get_paginated_response(self.get_serializer(page, many=True, context=context).data)


class LedgerTransfersApi(APIView):
    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES  # signed in, and a token's scopes

    class LedgerTransferInputSerializer(StrictInput):
        to = serializers.CharField(max_length=150, help_text="The recipient's username.")
        amount = FtnsAmountField(help_text="FTNS to send, e.g. \"12.5\" (at most six decimal places).")
        memo = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)

    @extend_schema(
        operation_id="ledger_transfers_create",
        request=LedgerTransferInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: LedgerTransferOutputSerializer, **MONEY_POST_ERRORS},
        examples=[OpenApiExample("Send 12.5 FTNS", value={"to": "ada", "amount": "12.5", "memo": "thanks"}, request_only=True)],
    )
    @idempotent
    def post(self, request):
        serializer = self.LedgerTransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recipient = _recipient(data["to"])
        txn = services.ledger_transfer_post(sender=request.user, recipient=recipient, amount=data["amount"], memo=data["memo"])
        balance = selectors.wallet_balance(user=request.user)
        return Response(LedgerTransferOutputSerializer({
            "transaction_id": txn.pk, "to": recipient.username, "amount": format_ftns(data["amount"]),
            "amount_units": data["amount"], "memo": txn.memo, "balance": format_ftns(balance),
            "balance_units": balance, "created_at": txn.created_at,
        }).data, status=status.HTTP_201_CREATED)


class LedgerGrantsApi(APIView):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, IsAdminUser]

    class LedgerGrantInputSerializer(StrictInput):
        to = serializers.CharField(max_length=150, help_text="The recipient's username.")
        amount = FtnsAmountField()
        reason = serializers.CharField(max_length=500)

    @extend_schema(
        operation_id="ledger_grants_create",
        description="Staff only: grant FTNS to a user, with a reason that shows on their statement.",
        request=LedgerGrantInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: LedgerGrantOutputSerializer, **MONEY_POST_ERRORS, 403: OpenApiResponse(description="Staff only.")},
    )
    @idempotent
    def post(self, request):
        serializer = self.LedgerGrantInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recipient = _recipient(data["to"])
        txn = services.ledger_grant_post(staff=request.user, user=recipient, amount=data["amount"], reason=data["reason"])
        return Response(LedgerGrantOutputSerializer({
            "transaction_id": txn.pk, "to": recipient.username, "amount": format_ftns(data["amount"]),
            "amount_units": data["amount"], "reason": txn.memo, "created_at": txn.created_at,
        }).data, status=status.HTTP_201_CREATED)
