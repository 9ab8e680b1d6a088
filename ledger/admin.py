"""Read-only views of the books: money moves only through ledger.services."""

from django.contrib import admin

from .amounts import display_ftns
from .models import Account, Entry, Hold, IdempotencyKey, Transaction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ["account", "amount_ftns", "balance_after_ftns"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="amount (FTNS)")
    def amount_ftns(self, entry):
        return display_ftns(entry.amount)

    @admin.display(description="balance after (FTNS)")
    def balance_after_ftns(self, entry):
        return display_ftns(entry.balance_after)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "kind", "user", "balance_ftns", "created_at"]
    list_filter = ["kind"]
    search_fields = ["code", "user__username"]

    @admin.display(description="balance (FTNS)", ordering="balance")
    def balance_ftns(self, account):
        return display_ftns(account.balance)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "memo", "reference", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["memo", "reference", "dedupe_key"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount_ftns", "balance_after_ftns"]
    list_filter = ["account__kind", "transaction__kind"]
    search_fields = ["account__code", "account__user__username", "transaction__reference"]
    list_select_related = ["transaction", "account"]

    @admin.display(description="amount (FTNS)", ordering="amount")
    def amount_ftns(self, entry):
        return display_ftns(entry.amount)

    @admin.display(description="balance after (FTNS)")
    def balance_after_ftns(self, entry):
        return display_ftns(entry.balance_after)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["reference", "wallet", "state", "amount", "charged", "released", "created_at", "closed_at"]
    list_filter = ["state"]
    search_fields = ["reference", "wallet__user__username"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "user", "status_code", "created_at", "expires_at"]
    search_fields = ["key", "user__username"]
