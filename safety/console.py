"""The moderation console's building blocks, shared by every app's part of it (safety/admin.py,
marketplace/admin.py): admin pages moderators may read but not edit, and actions that ask for a
reason before they call a service (which writes the audit log)."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from accounts.selectors import user_is_moderator
from core.views import domain_errors_shown


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ModeratorOnly(admin.ModelAdmin):
    """Moderators read; changes happen only through the actions (services), never by editing rows."""

    def has_module_permission(self, request):
        return user_is_moderator(user=request.user)

    def has_view_permission(self, request, obj=None):
        return user_is_moderator(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def reason_action(title: str, apply, *, name: str):
    """An admin action named ``name`` that first asks for a reason, then calls
    ``apply(admin, request, item, reason)`` on each selected item; a refusal is shown beside the item."""

    def action(modeladmin, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for item in queryset:
                with domain_errors_shown(request, about=str(item)) as shown:
                    apply(modeladmin, request, item, form.cleaned_data["reason"])
                done += shown.error is None
            modeladmin.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/safety/reason.html", {
            **modeladmin.admin_site.each_context(request), "title": title, "queryset": queryset, "form": form,
            "action": name, "opts": modeladmin.model._meta})

    action.__name__ = name
    return admin.action(description=title)(action)
