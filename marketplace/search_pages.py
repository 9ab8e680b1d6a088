"""The marketplace's search page (/marketplace/): filters that combine, results that follow them (htmx) and
a URL that holds the query. It calls the selectors the API calls."""

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render

from ledger.amounts import to_units
from prsm.request import EXPORT_FORMATS

from . import selectors
from .categories import CHOICES, TASKS

RESULTS_PER_PAGE = 20
ORDERING_CHOICES = [("", "Best match"), ("newest", "Newest"), ("-rating", "Best rated"), ("price", "Cheapest"),
                    ("speed", "Fastest"), ("-retention", "Highest retention"), ("size", "Smallest"),
                    ("-price", "Dearest"), ("oldest", "Oldest")]
CATEGORY_CHOICES = [("", "Any"), *((task, f"All {task}") for task in TASKS), *CHOICES]
TASK_CHOICES = [("", "Any"), *((task, task) for task in TASKS)]
FORMAT_CHOICES = [("", "Any"), *((name, name) for name in sorted(EXPORT_FORMATS))]
RATING_CHOICES = [("", "Any"), ("4", "4 stars or more"), ("3", "3 stars or more"), ("2", "2 stars or more")]
BYTES_PER_MB = 1_000_000


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        help_text="Words of a title, description, category or model card.")
    category = forms.ChoiceField(required=False, choices=CATEGORY_CHOICES)
    task = forms.ChoiceField(required=False, choices=TASK_CHOICES)
    domain = forms.CharField(required=False, max_length=100, help_text="e.g. digits, sentiment")
    min_retention = forms.FloatField(label="Retention at least, %", required=False, min_value=0, max_value=100)
    max_latency_ms = forms.FloatField(label="Latency at most, ms", required=False, min_value=0)
    max_size_mb = forms.FloatField(label="Size at most, MB", required=False, min_value=0, max_value=10**9)
    max_price = forms.DecimalField(label="Price at most, FTNS", required=False, min_value=0, decimal_places=6)
    export_format = forms.ChoiceField(label="Export format", required=False, choices=FORMAT_CHOICES)
    min_rating = forms.TypedChoiceField(label="Rating", required=False, choices=RATING_CHOICES, coerce=int,
                                        empty_value=None)
    ordering = forms.ChoiceField(label="Order by", choices=ORDERING_CHOICES, required=False)

    MORE = ("task", "max_latency_ms", "max_size_mb", "export_format", "min_rating", "domain")

    @property
    def more_filters_used(self) -> bool:
        """Whether a filter under "More filters" holds a value (or an error), so the page shows them open."""
        return any(self.data.get(name) for name in self.MORE) or any(name in self.errors for name in self.MORE)

    def filters(self) -> dict:
        data = self.cleaned_data
        retention, price, size = data.get("min_retention"), data.get("max_price"), data.get("max_size_mb")
        return {"q": data.get("q") or "", "domain": data.get("domain") or "", "category": data.get("category") or "",
                "task": data.get("task") or "", "export_format": data.get("export_format") or "",
                "min_retention": None if retention is None else retention / 100,
                "max_latency_ms": data.get("max_latency_ms"),
                "max_size_bytes": None if size is None else int(size * BYTES_PER_MB),
                "max_price": None if price is None else to_units(price),
                "min_rating": data.get("min_rating"), "ordering": data.get("ordering") or ""}


def search_page(request):
    form = SearchForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    listings = selectors.listing_search(**form.filters()) if valid and form.is_bound else selectors.listing_search()
    if not valid:
        listings = listings.none()
    page = Paginator(listings, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "total": page.paginator.count}
    partial = request.htmx and not request.htmx.history_restore_request
    template = "marketplace/_search_results.html" if partial else "marketplace/search.html"
    return render(request, template, context)
