from django import forms

from .models import EVENT_TYPES

EVENT_WORDS = {"job.completed": "a job of yours finished", "job.failed": "a job of yours failed",
               "model.sold": "someone bought or rented a model you sell"}


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(label="Endpoint URL", max_length=500,
                          help_text="Where the events are POSTed, e.g. https://example.com/prsm-hook (http or https).",
                          widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                       "placeholder": "https://"}))
    events = forms.MultipleChoiceField(label="Events", choices=[(e, f"{e}: {EVENT_WORDS[e]}") for e in EVENT_TYPES],
                                       initial=list(EVENT_TYPES[:2]), widget=forms.CheckboxSelectMultiple,
                                       error_messages={"required": "Choose at least one event."})
    description = forms.CharField(label="Description (optional)", max_length=200, required=False,
                                  help_text="A note for yourself, e.g. “CI pipeline”.")
