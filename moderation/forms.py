from django import forms

from safety.models import ModerationAction

REASON_HELP = "Required. The affected person is sent this with the decision; it is kept in the audit log."


def _reason_field(label: str = "Reason") -> forms.CharField:
    return forms.CharField(label=label, max_length=2000, help_text=REASON_HELP,
                           widget=forms.Textarea(attrs={"rows": 2, "data-reason": ""}))


class DecisionForm(forms.Form):
    """One queue item's decision: what to do, and why (required)."""

    decision = forms.ChoiceField(widget=forms.RadioSelect)
    reason = _reason_field()

    def __init__(self, *args, choices, item_key: str, **kwargs):
        # every item's form on the one page needs ids of its own; the names stay plain
        kwargs.setdefault("auto_id", f"id_%s_{item_key}")
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = choices
        self.fields["decision"].widget.attrs["data-decision"] = ""


class ReasonForm(forms.Form):
    """Suspend or reinstate an account or a listing: the reason (required)."""

    reason = _reason_field()

    def __init__(self, *args, item_key: str, **kwargs):
        kwargs.setdefault("auto_id", f"id_%s_{item_key}")
        super().__init__(*args, **kwargs)


class AuditFilterForm(forms.Form):
    moderator = forms.CharField(required=False, max_length=150, label="Moderator", help_text="username")
    action = forms.ChoiceField(required=False, label="Action",
                               choices=[("", "any action"), *ModerationAction.Action.choices])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    subject = forms.CharField(required=False, max_length=200, label="Subject",
                              help_text="a job or listing id, a listing title, a file name or checksum, a username")

    def filters(self) -> dict:
        """What the log is narrowed by: the fields that were valid (an unreadable date narrows nothing)."""
        self.is_valid()
        data = self.cleaned_data
        return {"moderator": data.get("moderator", ""), "action": data.get("action", ""), "since": data.get("since"),
                "until": data.get("until"), "subject": data.get("subject", "")}


class LookupForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Find")
