from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .amounts import FTNS_DECIMALS, format_ftns, to_units
from .idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from .models import Transaction

User = get_user_model()

ERROR_SHAPE = 'The body is {"error": {"code", "message", "field"?}}.'
MONEY_POST_ERRORS = {
    400: OpenApiResponse(description=f"Invalid body or missing Idempotency-Key (field names it). {ERROR_SHAPE}"),
    409: OpenApiResponse(description="`insufficient_funds`, or `idempotency_key_reused`: the key was used with another "
                         f"body. {ERROR_SHAPE}"),
}


class FtnsAmountField(serializers.DecimalField):
    """FTNS as a decimal string with at most six places; the view receives integer units."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=18, decimal_places=FTNS_DECIMALS, min_value=0, **kwargs)

    def to_internal_value(self, data):
        units = to_units(super().to_internal_value(data))
        if units <= 0:
            raise serializers.ValidationError("Must be more than 0 FTNS.", code="min_value")
        return units


class LedgerBalanceOutputSerializer(serializers.Serializer):
    balance = serializers.CharField(help_text="Spendable FTNS, six decimal places.")
    balance_units = serializers.IntegerField(help_text="The same in units (1 FTNS = 1,000,000 units).")
    held = serializers.CharField(help_text="FTNS in escrow for running jobs (not included in balance).")
    held_units = serializers.IntegerField()
    currency = serializers.CharField(default="FTNS")


class LedgerEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    transaction_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices, source="transaction.kind")
    amount = serializers.SerializerMethodField(help_text="Signed FTNS: positive credits the wallet.")
    amount_units = serializers.IntegerField(source="amount")
    balance_after = serializers.SerializerMethodField(help_text="The wallet's balance once this entry applied.")
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
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise exceptions.ValidationError({"to": ["No active user with that username."]}, code="unknown_user")
    return user


class LedgerBalanceApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="ledger_balance", responses={200: LedgerBalanceOutputSerializer})
    def get(self, request):
        balance, held = selectors.wallet_balance(user=request.user), selectors.wallet_held(user=request.user)
        return Response(LedgerBalanceOutputSerializer({
            "balance": format_ftns(balance), "balance_units": balance,
            "held": format_ftns(held), "held_units": held, "currency": "FTNS",
        }).data)


class LedgerEntriesApi(ListAPIView):
    permission_classes = [IsAuthenticated]
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
    permission_classes = [IsAuthenticated]

    class LedgerTransferInputSerializer(serializers.Serializer):
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
    permission_classes = [IsAdminUser]

    class LedgerGrantInputSerializer(serializers.Serializer):
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
